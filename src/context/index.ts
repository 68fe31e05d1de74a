/**
 * Context sources (docs/ARCHITECTURE.md, "Context sources"): the identity providers whose groups,
 * and the on-call tools whose rotas, Latch syncs, by type. A type reads its API; sync.ts stores
 * what it read, directory.ts reads it.
 */
import { entra } from './entra.js';
import { jsmOps } from './jsm-ops.js';
import { okta } from './okta.js';
import { pagerduty } from './pagerduty.js';
import type { ContextSourceType } from './types.js';

export const CONTEXT_TYPES: Record<string, ContextSourceType> = {
  okta,
  entra,
  pagerduty,
  jsm_ops: jsmOps,
};

export { ContextDirectory, isStale, type PersonGroups, type SourceSummary } from './directory.js';
export { ContextSync, type SourceState, type SyncReport } from './sync.js';
export { contextSourceSchema, qualifiedGroup, type ContextSourceInput } from './types.js';
export { CONTEXT_FORMS, contextFormOf, type ContextSourceForm } from './forms.js';
