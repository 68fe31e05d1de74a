// Jest loads global setup outside its ESM transform; tsx loads the TypeScript module for it.
import { tsImport } from 'tsx/esm/api';
export default async function setup() {
  const mod = await tsImport('./servers.ts', import.meta.url);
  await mod.startServers();
}
