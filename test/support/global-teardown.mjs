export default async function teardown() {
  const servers = globalThis.__latchServers;
  await Promise.all([servers?.mongo?.stop(), servers?.pg?.stop(), servers?.ldap?.stop()]);
}
