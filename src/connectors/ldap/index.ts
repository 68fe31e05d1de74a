/**
 * The LDAP connector: access is membership of a person's directory entry in a group (OpenLDAP,
 * Active Directory, any LDAPv3 directory). See docs/ARCHITECTURE.md, "Connectors".
 */
import { parseIntegration } from '../settings.js';
import type {
  AccessEntry,
  Connector,
  ConnectorFactory,
  DiscoveredResource,
  GrantHandle,
  GrantItem,
  GrantResult,
  GrantSpec,
  HealthResult,
  IntegrationRuntime,
} from '../types.js';
import { listAccess } from './access-list.js';
import type { LdapContext } from './client.js';
import { ldapConfigSchema, ldapSecretsSchema, type LdapConfig } from './config.js';
import { discover } from './discovery.js';
import { health } from './health.js';
import { checkMemberships, grantMembership, revokeMemberships } from './membership.js';
import { accessKeyOf } from './names.js';

export { ldapConfigSchema, ldapConfigFields, ldapSecretsSchema, validateLdapSettings } from './config.js';
export { escapeDNValue, normalizeDN, parseDN, rdn } from './dn.js';
export { groupSetResourceId, groupResourceId } from './names.js';

export class LdapConnector implements Connector {
  readonly type = 'ldap';
  private readonly ctx: LdapContext;

  constructor(config: LdapConfig, bindPassword: string | undefined) {
    this.ctx = { config, bindPassword };
  }

  discover(): Promise<DiscoveredResource[]> {
    return discover(this.ctx);
  }

  grant(spec: GrantSpec): Promise<GrantResult> {
    return grantMembership(this.ctx, spec);
  }

  async revoke(spec: GrantSpec, handle: GrantHandle): Promise<void> {
    const [outcome] = await revokeMemberships(this.ctx, [{ spec, handle }]);
    if (outcome) throw outcome;
  }

  revokeMany(items: GrantItem[]): Promise<Array<Error | null>> {
    return revokeMemberships(this.ctx, items);
  }

  async check(spec: GrantSpec, handle: GrantHandle): Promise<boolean> {
    const [present] = await checkMemberships(this.ctx, [{ spec, handle }]);
    return present === true;
  }

  checkMany(items: GrantItem[]): Promise<boolean[]> {
    return checkMemberships(this.ctx, items);
  }

  accessKey(handle: GrantHandle): string {
    return accessKeyOf(handle);
  }

  listAccess(): Promise<AccessEntry[]> {
    return listAccess(this.ctx);
  }

  /** A membership has no expiry of its own in LDAP: the lifecycle's revoke ends it. */
  async extend(_spec: GrantSpec, _handle: GrantHandle, _expiresAt: Date | null): Promise<void> {}

  health(): Promise<HealthResult> {
    return health(this.ctx);
  }

  /** Every operation opens and closes its own connection: nothing to close. */
  async close(): Promise<void> {}
}

export const createLdapConnector: ConnectorFactory = (integration: IntegrationRuntime) => {
  const { config, secrets } = parseIntegration(integration, 'LDAP', ldapConfigSchema, ldapSecretsSchema);
  return new LdapConnector(config, secrets.bindPassword);
};
