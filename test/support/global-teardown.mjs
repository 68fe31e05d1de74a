// Stops every server the global set-up started (test/support/servers.ts), whichever they are.
export default async function teardown() {
  const servers = globalThis.__latchServers ?? {};
  await Promise.all(Object.values(servers).map((s) => s?.stop()));
}
