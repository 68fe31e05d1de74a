/**
 * The one interface every integration type implements. Every operation is idempotent: granting a
 * grant that already exists, or revoking one that is already gone, succeeds and changes nothing
 * more. That is what lets the lifecycle retry after a crash without knowing how far it got.
 */
import type { Resource } from '../domain/resource.js';

export interface DiscoveredResource {
  id: string;
  name: string;
  kind: string;
  tags?: Record<string, string>;
  permissions: string[];
}

export interface GrantSpec {
  /** Stable id of this grant (request id + target index); connectors derive their names from it. */
  grantId: string;
  requestId: string;
  /** The requester's email, for connectors that map it to an existing account. */
  requesterEmail: string;
  resource: Pick<Resource, 'id' | 'name' | 'kind'>;
  permission: string;
  /** null for indefinite access. */
  expiresAt: Date | null;
}

/**
 * What the connector needs later to revoke or check the grant; stored on the request. A handle may
 * carry `shareKey`: grants of one integration with the same key share one thing on the system (an
 * existing login's group membership), so the lifecycle revokes it only when no other grant holds it.
 */
export type GrantHandle = Record<string, string | number | boolean | null>;

/** A grant as the batch operations take it. */
export interface GrantItem {
  spec: GrantSpec;
  handle: GrantHandle;
}

export interface GrantResult {
  handle: GrantHandle;
  /** Secrets for the requester only (e.g. a temporary login). Handed to the notifier, never stored or logged. */
  credentials?: Record<string, string>;
}

/**
 * A grant that failed part-way and could not undo what it had made: `handle` names what is left, so
 * the lifecycle can remove it through revoke. A connector's grant either succeeds, or fails having
 * left nothing, or throws this.
 */
export class PartialGrantError extends Error {
  constructor(
    message: string,
    readonly handle: GrantHandle,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PartialGrantError';
  }
}

/**
 * One piece of access that really exists on the system, as listAccess() reads it
 * (docs/ARCHITECTURE.md, "Reconciliation"). Reconciliation matches entries to Latch's grants by
 * `key`: connector.accessKey(handle) of a grant equals the key of the entry it made.
 */
export interface AccessEntry {
  key: string;
  /** The resource (a DiscoveredResource id) and the permission it gives. */
  resourceId: string;
  permission: string;
  /** The account that holds it, as the system names it (login, ACL user, DN, Slack user id...). */
  account: string;
  /** The person's email, where the system knows it. */
  email?: string;
  /** The connector can tell Latch made it (e.g. a temporary account carrying Latch's prefix). */
  madeByLatch: boolean;
  /** What revoke() takes to remove exactly this access (with a spec built from this entry). */
  handle: GrantHandle;
}

export interface HealthResult {
  ok: boolean;
  message: string;
}

export interface Connector {
  readonly type: string;
  discover(): Promise<DiscoveredResource[]>;
  /** All or nothing: on failure nothing is left on the system, or a PartialGrantError names what is. */
  grant(spec: GrantSpec): Promise<GrantResult>;
  /** Removes the grant and cuts off live sessions that use it. Succeeds if it is already gone. */
  revoke(spec: GrantSpec, handle: GrantHandle): Promise<void>;
  /**
   * revoke() for many grants in as few round trips as the system allows; same order as `items`, each
   * outcome null (gone, or never there) or the error that kept that one. It never throws for one
   * item's failure: one bad grant must not hold back the rest. Optional: without it the lifecycle
   * calls revoke() for each.
   */
  revokeMany?(items: GrantItem[]): Promise<Array<Error | null>>;
  /** Does the grant exist on the system now? */
  check(spec: GrantSpec, handle: GrantHandle): Promise<boolean>;
  /**
   * check() for many grants in one round trip where the system allows it; same order as `items`.
   * Optional: without it the lifecycle calls check() for each.
   */
  checkMany?(items: GrantItem[]): Promise<boolean[]>;
  /**
   * The key of what this grant holds on the system, the same as the AccessEntry listAccess() reads
   * for it. Pure: no I/O. Two grants with one key hold one thing (see GrantHandle.shareKey).
   */
  accessKey(handle: GrantHandle): string;
  /**
   * All access that exists on what this integration manages: what Latch granted and what was given
   * outside it (standing access). Read-only.
   */
  listAccess(): Promise<AccessEntry[]>;
  /** Moves the grant's own expiry (defence in depth) after an extension. */
  extend(spec: GrantSpec, handle: GrantHandle, expiresAt: Date | null): Promise<void>;
  health(): Promise<HealthResult>;
  close(): Promise<void>;
}

/** An integration as the connector factory sees it: plain config plus decrypted secrets. */
export interface IntegrationRuntime {
  name: string;
  type: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
}

export type ConnectorFactory = (integration: IntegrationRuntime) => Connector;

/** A problem with an integration's settings, found without connecting to anything. */
export interface SettingsIssue {
  /** Starts with `config` or `secrets`, then the field inside it, e.g. `['config', 'port']`. */
  path: Array<string | number>;
  /** Never contains a secret's value. */
  message: string;
  /** The field is not one the connector knows: a typo, or left over from another type. */
  unknownField?: boolean;
}

/**
 * Checks an integration's config and (decrypted) secrets. Pure: opens no connection, so it can run
 * on a whole flows file or an admin's form before anything is written.
 */
export type ConnectorValidator = (
  config: Record<string, unknown>,
  secrets: Record<string, string>,
) => SettingsIssue[];

/**
 * One setting of an integration type as a form shows it (the Teams tab's integration editor,
 * docs/ARCHITECTURE.md, "Personal tab"). `key` is its path in the config, dotted for nesting
 * (`roleMap.read`). A field left empty is left out of the config, so the type's default applies.
 */
export interface ConnectorFormField {
  key: string;
  label: string;
  /** `list`: comma- or line-separated strings; `yaml`: a value of any shape, written as YAML. */
  kind: 'text' | 'number' | 'boolean' | 'select' | 'list' | 'yaml';
  required?: boolean;
  options?: string[];
  /** The type's default, shown as the placeholder; a boolean equal to it is left out. */
  default?: string | number | boolean;
  hint?: string;
}

/** How a form edits an integration of one type: its settings, and its (write-only) secrets. */
export interface ConnectorForm {
  fields: ConnectorFormField[];
  secrets: Array<{ key: string; label: string; hint?: string }>;
}

/** An integration type: how to build its connector, and how to check its settings beforehand. */
export interface ConnectorType {
  create: ConnectorFactory;
  validate: ConnectorValidator;
  /** The fields of its form; a type without one is edited as YAML, as in Slack's modal. */
  form?: ConnectorForm;
}
