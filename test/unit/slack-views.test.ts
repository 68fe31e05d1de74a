import { describe, expect, it } from '@jest/globals';
import { checkMessage, checkView, LIMITS } from '../support/slack-views/block-kit-limits.js';
import { SAMPLE_VIEWS, STRESS_VIEWS, type Sample } from '../support/slack-views/samples.js';

type Json = Record<string, unknown>;

const build = (set: Record<string, () => Sample>, name: string): Sample => {
  const make = set[name];
  if (!make) throw new Error(`no sample called ${name}`);
  return make();
};
/** Issues as `path: message` lines, so that a failure reads like Slack's own error. */
const issuesOf = (s: Sample) =>
  (s.kind === 'view' ? checkView(s.value) : checkMessage(s.value)).map((i) => `${i.path}: ${i.message}`);
const blocksOf = (s: Sample) => (s.value as { blocks: Json[] }).blocks;
const text = (t: unknown) => (t as { text: string }).text;
/** Every text in a block, to look for a phrase. */
const textsOf = (blocks: Json[]): string[] =>
  blocks.flatMap((b) => [
    ...(b.text ? [text(b.text)] : []),
    ...(Array.isArray(b.fields) ? b.fields.map(text) : []),
    ...(b.type === 'context' && Array.isArray(b.elements) ? b.elements.map(text) : []),
    ...(b.type === 'actions' && Array.isArray(b.elements) ? b.elements.map((e: Json) => text(e.text)) : []),
  ]);
const inputElement = (s: Sample, blockId: string) => {
  const block = blocksOf(s).find((b) => b.block_id === blockId);
  if (!block) throw new Error(`no block ${blockId}`);
  return block.element as Json & { options?: Json[]; initial_options?: Json[] };
};

describe('Slack view samples', () => {
  it.each(Object.keys(SAMPLE_VIEWS))('sample %s is within the Block Kit limits', (name) => {
    expect(issuesOf(build(SAMPLE_VIEWS, name))).toEqual([]);
  });

  it.each(Object.keys(STRESS_VIEWS))('stress %s is within the Block Kit limits', (name) => {
    expect(issuesOf(build(STRESS_VIEWS, name))).toEqual([]);
  });

  it('covers every surface the README names', () => {
    const named = [
      'request-modal',
      'request-modal-nothing',
      'request-submitted',
      'approval-card',
      'approval-card-decided',
      'extension-card',
      'approve-reason-modal',
      'deny-modal',
      'dm-submitted',
      'dm-approved',
      'dm-denied',
      'dm-granted',
      'dm-expiring',
      'dm-expiring-no-extension',
      'credentials-modal',
      'access-list',
      'access-help',
      'home-me',
      'home-approvals',
      'home-flows',
      'home-integrations',
      'home-active',
      'home-settings',
      'home-audit',
      'flow-modal-new',
      'flow-modal-edit',
      'integration-modal',
      'settings-modal',
      'revoke-all-modal',
    ];
    expect(named.filter((n) => !SAMPLE_VIEWS[n])).toEqual([]);
    // Every stress case stresses a surface that also has a realistic sample.
    expect(
      Object.keys(STRESS_VIEWS).filter((n) => !SAMPLE_VIEWS[n] && !n.startsWith('home-active-')),
    ).toEqual([]);
  });

  it('builds views and messages of the right kind', () => {
    for (const set of [SAMPLE_VIEWS, STRESS_VIEWS]) {
      for (const [name, make] of Object.entries(set)) {
        const s = make();
        const value = s.value as Json;
        if (s.kind === 'view')
          expect([name, value.type]).toEqual([name, expect.stringMatching(/^(modal|home)$/)]);
        else expect([name, typeof value.text, Array.isArray(value.blocks)]).toEqual([name, 'string', true]);
      }
    }
  });
});

describe('builders cut and page extreme data', () => {
  it('pages 1000 active requests in the App Home', () => {
    const s = build(STRESS_VIEWS, 'home-active');
    const blocks = blocksOf(s);
    expect(blocks.length).toBeLessThanOrEqual(LIMITS.viewBlocks);
    expect(textsOf(blocks)).toContain('Page 1 of 100 · 1000 in all');
    expect(textsOf(blocks)).toContain('Next ›');
    expect(textsOf(blocks)).not.toContain('‹ Previous');
    expect(blocks.filter((b) => b.type === 'section')).toHaveLength(10);
  });

  it('shows the last page, and clamps a page past the end to it', () => {
    for (const name of ['home-active-last-page', 'home-active-past-the-end']) {
      const texts = textsOf(blocksOf(build(STRESS_VIEWS, name)));
      expect(texts).toContain('Page 100 of 100 · 1000 in all');
      expect(texts).toContain('‹ Previous');
      expect(texts).not.toContain('Next ›');
    }
  });

  it('pages my access, approvals and flows', () => {
    expect(textsOf(blocksOf(build(STRESS_VIEWS, 'home-me')))).toContain('Page 1 of 100 · 1000 in all');
    expect(textsOf(blocksOf(build(STRESS_VIEWS, 'home-me')))).toContain('…and 190 more');
    expect(textsOf(blocksOf(build(STRESS_VIEWS, 'home-approvals')))).toContain('Page 1 of 50 · 500 in all');
    expect(textsOf(blocksOf(build(STRESS_VIEWS, 'home-flows')))).toContain('Page 1 of 15 · 150 in all');
    expect(textsOf(blocksOf(build(STRESS_VIEWS, 'home-integrations')))).toContain(
      'Page 1 of 12 · 120 in all',
    );
    for (const name of Object.keys(STRESS_VIEWS).filter((n) => n.startsWith('home-'))) {
      expect([name, blocksOf(build(STRESS_VIEWS, name)).length <= LIMITS.viewBlocks]).toEqual([name, true]);
    }
  });

  it('keeps every message with 50 targets within 50 blocks and its texts within their limits', () => {
    for (const [name, make] of Object.entries(STRESS_VIEWS)) {
      const s = make();
      if (s.kind !== 'message') continue;
      const value = s.value as { text: string; blocks: Json[] };
      expect([name, value.blocks.length <= LIMITS.messageBlocks]).toEqual([name, true]);
      expect([name, value.text.length <= LIMITS.messageText]).toEqual([name, true]);
    }
  });

  it('lists ten of 50 targets on an approval card and cuts long names with …', () => {
    const blocks = blocksOf(build(STRESS_VIEWS, 'approval-card'));
    const lead = text(blocks[0]!.text);
    expect(lead.length).toBeLessThanOrEqual(LIMITS.sectionText);
    expect(lead.endsWith('…')).toBe(true);
    const fields = (blocks[1]!.fields as Json[]).map(text);
    for (const f of fields) expect(f.length).toBeLessThanOrEqual(LIMITS.fieldText);
    const why = fields.find((f) => f.startsWith('*Why*'))!;
    expect(why.endsWith('…')).toBe(true);
    expect(blocks.some((b) => b.type === 'actions')).toBe(true);
  });

  it('names a large bundle by its size instead of listing it', () => {
    const lead = text(blocksOf(build(STRESS_VIEWS, 'approval-card-bundle'))[0]!.text);
    expect(lead).toContain('(50 resources)');
  });

  it('keeps at most 100 of 500 selected resources in the request modal, labels cut with …', () => {
    const resources = inputElement(build(STRESS_VIEWS, 'request-modal'), 'resources');
    expect(resources.initial_options).toHaveLength(LIMITS.options);
    for (const o of resources.initial_options!) {
      const label = text(o.text);
      expect(label.length).toBeLessThanOrEqual(LIMITS.optionText);
      expect(label.endsWith('…')).toBe(true);
    }
  });

  it('offers at most 100 flows, bundles and permissions in the request modal', () => {
    const s = build(STRESS_VIEWS, 'request-modal');
    for (const id of ['flow', 'bundle', 'permission']) {
      expect([id, inputElement(s, id).options!.length]).toEqual([id, LIMITS.options]);
    }
    expect(inputElement(s, 'permission').initial_option).toEqual(expect.objectContaining({ value: 'write' }));
  });

  it('lists 20 of 1000 requests in /access list', () => {
    const blocks = blocksOf(build(STRESS_VIEWS, 'access-list'));
    expect(textsOf(blocks)).toContain('…and 980 more; the App Home tab lists them all.');
    expect(blocks.filter((b) => b.type === 'section')).toHaveLength(2);
  });

  it('never cuts credentials (they are shown once): long values are split over sections', () => {
    const blocks = blocksOf(build(STRESS_VIEWS, 'credentials-modal'));
    expect(blocks.length).toBeLessThanOrEqual(LIMITS.viewBlocks);
    for (const b of blocks) expect(text(b.text).length).toBeLessThanOrEqual(LIMITS.sectionText);
    const all = blocks.map((b) => text(b.text)).join('');
    expect(all).not.toContain('…');
    expect(all.length).toBeGreaterThan(40 * 2500);
  });

  it('cuts modal titles to 24 characters', () => {
    const s = build(STRESS_VIEWS, 'notice-modal');
    const title = text((s.value as Json).title);
    expect(title).toHaveLength(LIMITS.modalTitle);
    expect(title.endsWith('…')).toBe(true);
  });
});
