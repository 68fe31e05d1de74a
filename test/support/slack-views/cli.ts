/**
 * Prints a Slack surface as JSON for the Block Kit Builder (https://app.slack.com/block-kit-builder):
 *   npm run slack:views                         lists the names
 *   npm run slack:views -- <name>               prints that view (messages as { blocks })
 *   npm run slack:views -- --stress [<name>]    the same builders fed extreme data
 */
import { SAMPLE_VIEWS, STRESS_VIEWS } from './samples.js';

const args = process.argv.slice(2);
const views = args.includes('--stress') ? STRESS_VIEWS : SAMPLE_VIEWS;
const name = args.find((a) => !a.startsWith('--'));
const names = Object.keys(views).join('\n');

if (name === undefined) {
  console.log(names);
} else {
  const build = views[name];
  if (!build) {
    console.error(`No view called ${name}. One of:\n${names}`);
    process.exit(1);
  }
  const { kind, value } = build();
  console.log(
    JSON.stringify(kind === 'view' ? value : { blocks: (value as { blocks: unknown }).blocks }, null, 2),
  );
}
