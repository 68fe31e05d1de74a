/** The worker role alone: Agenda and the sweeps, no HTTP. */
import { run } from './main.js';

run('worker').catch((err) => {
  console.error(err);
  process.exit(1);
});
