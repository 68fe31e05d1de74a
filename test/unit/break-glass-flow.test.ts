/** The break-glass flow option in the flows file (docs/ARCHITECTURE.md, "Break-glass"): off unless set. */
import { describe, expect, it } from '@jest/globals';
import { FlowsFileError, parseFlowsFile } from '../../src/config/flows-file.js';

const file = (option: string) => `
flows:
  - name: emergency
    grantees:
      include: [{ type: group, id: sre }]
    targets:
      - integration: prod-db
        permissions: [read]
    approval:
      steps:
        - approvers: [{ type: group, id: dba }]
    duration: { maxMinutes: 60 }
${option}
`;
const opts = { source: 'latch.config.yaml', known: { integrations: ['prod-db'], bundles: [] } };

describe('breakGlass in the flows file', () => {
  it('is off when the flow does not say', () => {
    expect(parseFlowsFile(file(''), opts).flows[0]!.breakGlass).toBe(false);
  });

  it('is on when the flow sets it', () => {
    expect(parseFlowsFile(file('    breakGlass: true'), opts).flows[0]!.breakGlass).toBe(true);
  });

  it('is refused when it is not true or false, with its line', () => {
    let problems: FlowsFileError['problems'] = [];
    try {
      parseFlowsFile(file('    breakGlass: sometimes'), opts);
    } catch (err) {
      problems = (err as FlowsFileError).problems;
    }
    expect(problems.map((p) => [p.path, p.line])).toEqual([['flows[0].breakGlass', 13]]);
  });
});
