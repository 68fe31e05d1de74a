/**
 * OAuth installations in MongoDB. Each installation is stored whole, sealed with the encryption
 * key, because it carries bot and user tokens; the ids stay in clear to look it up.
 */
import type { Installation, InstallationQuery, InstallationStore } from '@slack/oauth';
import type { SecretBox } from '../../store/secrets.js';
import type { SlackModels } from './store.js';

type AnyInstallation = Installation<'v1' | 'v2', boolean>;

export class MongoInstallationStore implements InstallationStore {
  constructor(
    private readonly m: SlackModels,
    private readonly box: SecretBox,
  ) {}

  async storeInstallation(installation: AnyInstallation): Promise<void> {
    const id = installationKey(
      installation.isEnterpriseInstall,
      installation.enterprise?.id,
      installation.team?.id,
    );
    await this.m.Installation.updateOne(
      { _id: id },
      {
        $set: {
          teamId: installation.team?.id,
          enterpriseId: installation.enterprise?.id,
          isEnterpriseInstall: Boolean(installation.isEnterpriseInstall),
          sealed: this.box.seal(JSON.stringify(installation)),
          installedAt: new Date(),
        },
      },
      { upsert: true },
    );
  }

  async fetchInstallation(query: InstallationQuery<boolean>): Promise<AnyInstallation> {
    const id = installationKey(query.isEnterpriseInstall, query.enterpriseId, query.teamId);
    const doc = await this.m.Installation.findById(id).lean();
    if (!doc) throw new Error(`Latch is not installed in ${id}`);
    return JSON.parse(this.box.open(doc.sealed)) as AnyInstallation;
  }

  async deleteInstallation(query: InstallationQuery<boolean>): Promise<void> {
    await this.m.Installation.deleteOne({
      _id: installationKey(query.isEnterpriseInstall, query.enterpriseId, query.teamId),
    });
  }

  /** Every installed workspace's bot token, for lookups that start from an email rather than a team. */
  async all(): Promise<Array<{ teamId?: string; botToken: string }>> {
    const docs = await this.m.Installation.find().lean();
    const out: Array<{ teamId?: string; botToken: string }> = [];
    for (const d of docs) {
      const inst = JSON.parse(this.box.open(d.sealed)) as AnyInstallation;
      if (inst.bot?.token) out.push({ teamId: inst.team?.id ?? undefined, botToken: inst.bot.token });
    }
    return out;
  }
}

function installationKey(enterprise: boolean | undefined, enterpriseId?: string, teamId?: string): string {
  const key = enterprise ? enterpriseId : (teamId ?? enterpriseId);
  if (!key) throw new Error('installation query names no team or enterprise');
  return key;
}
