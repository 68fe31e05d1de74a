/**
 * Applies the flows file at start: upserts integrations, bundles, flows and settings by name.
 * Unchanged entries are left alone so a restart does not fill the audit log with no-op edits.
 *
 * `declared` should come from parseFlowsFile/loadFlowsFile with `integrationTypes`, which reports
 * every problem with its line; the integrations are checked again here before the first write, so
 * a config that was parsed without those checks is still refused whole rather than half-applied.
 */
import { canonicalJson } from '../audit/canonical-json.js';
import { flowSchema } from '../domain/flow.js';
import type { AdminUseCases } from '../lifecycle/admin.js';
import type { LifecycleContext } from '../lifecycle/context.js';
import { LatchError, invalid } from '../lifecycle/errors.js';
import type { DeclaredConfig } from './flows-file.js';

export interface ApplyReport {
  integrations: number;
  contextSources: number;
  bundles: number;
  flows: number;
  unchanged: number;
  discoveryErrors: string[];
}

export async function applyDeclaredConfig(
  ctx: LifecycleContext,
  admin: AdminUseCases,
  declared: DeclaredConfig,
): Promise<ApplyReport> {
  const report: ApplyReport = {
    integrations: 0,
    contextSources: 0,
    bundles: 0,
    flows: 0,
    unchanged: 0,
    discoveryErrors: [],
  };
  const { Bundle, Flow } = ctx.db.models;
  for (const integ of declared.integrations) {
    try {
      await admin.checkIntegration('config-file', integ);
    } catch (err) {
      throw err instanceof LatchError ? invalid(`Integration ${integ.name}: ${err.message}`, err.field) : err;
    }
  }
  for (const source of declared.contextSources ?? []) {
    try {
      await admin.checkContextSource('config-file', source);
    } catch (err) {
      throw err instanceof LatchError
        ? invalid(`Context source ${source.name}: ${err.message}`, err.field)
        : err;
    }
  }
  for (const source of declared.contextSources ?? []) {
    if (await admin.contextSourceMatches(source)) report.unchanged++;
    else {
      await admin.saveContextSource('config-file', source);
      report.contextSources++;
    }
  }
  for (const integ of declared.integrations) {
    if (await admin.integrationMatches(integ)) report.unchanged++;
    else {
      await admin.saveIntegration('config-file', integ);
      report.integrations++;
    }
    try {
      await admin.discover('config-file', integ.name);
    } catch (err) {
      report.discoveryErrors.push(`${integ.name}: ${(err as Error).message}`);
    }
  }
  for (const bundle of declared.bundles) {
    const existing = await Bundle.findOne({ name: bundle.name }).lean();
    if (existing && canonicalJson(existing.definition) === canonicalJson(bundle)) report.unchanged++;
    else {
      await admin.saveBundle('config-file', bundle);
      report.bundles++;
    }
  }
  for (const flow of declared.flows) {
    const existing = await Flow.findOne({ name: flow.name }).lean();
    const normalized = flowSchema.parse(flow);
    if (existing && canonicalJson(existing.definition) === canonicalJson(normalized)) report.unchanged++;
    else {
      await admin.saveFlow('config-file', flow, existing ? String(existing._id) : undefined, 'config');
      report.flows++;
    }
  }
  if (declared.settings && Object.keys(declared.settings).length)
    await admin.updateSettings('config-file', declared.settings);
  return report;
}
