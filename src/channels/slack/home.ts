/**
 * Builds and publishes a person's App Home. The section they look at is remembered, so that a
 * refresh after an action keeps them where they were.
 */
import {
  ADMIN_SECTIONS,
  HOME_SECTIONS,
  homeView,
  type HomeModel,
  type HomeSection,
} from '../../../blocks/slack/home.js';
import { canApprove } from '../../domain/approval.js';
import { checkExtension, effectiveExtension } from '../../domain/duration.js';
import type { Flow } from '../../domain/flow.js';
import type { Identity } from '../../domain/identity.js';
import { approvalContext } from '../../lifecycle/requests.js';
import { toView } from '../../lifecycle/views.js';
import type { RequestDoc } from '../../store/models.js';
import type { SlackDeps } from './context.js';

const OPEN = ['pending', 'approved', 'granting'];
const LIVE = ['active', 'revoking'];

export async function homeModel(
  deps: Omit<SlackDeps, 'home'>,
  who: Identity,
  nav: { section: HomeSection; page: number },
): Promise<HomeModel> {
  const { ctx, db } = deps.latch;
  const Request = db.models.Request;
  const settings = await ctx.settings();
  const isAdmin = await ctx.isAdmin(who, settings);
  const section = isAdmin || !ADMIN_SECTIONS.includes(nav.section) ? nav.section : 'me';
  const [mine, pending] = await Promise.all([
    Request.find({ 'requester.id': who.id, state: { $in: [...OPEN, ...LIVE] } })
      .sort({ number: -1 })
      .limit(200)
      .lean<RequestDoc[]>(),
    Request.find({ state: 'pending' }).sort({ number: 1 }).limit(500).lean<RequestDoc[]>(),
  ]);
  const waitingOnMe = pending.filter((d) => {
    const step = (d.flow as Flow).approval.steps[d.step ?? 0];
    return (
      step &&
      canApprove(step, who, approvalContext(d)).ok &&
      !d.approvals.some((a) => a.step === d.step && a.by === who.id)
    );
  });
  const model: HomeModel = {
    isAdmin,
    section,
    page: nav.page,
    timeZone: who.timeZone,
    mine: {
      active: mine
        .filter((d) => LIVE.includes(d.state))
        .map((d) => ({ request: toView(d), extendMinutes: extendChoices(d, settings.selfExtension) })),
      pending: mine.filter((d) => OPEN.includes(d.state)).map(toView),
    },
    waitingOnMe: waitingOnMe.map(toView),
  };
  if (isAdmin) {
    const [flows, integrations, counts, active, audit] = await Promise.all([
      ctx.flows(),
      section === 'integrations'
        ? db.models.Integration.find().sort({ name: 1 }).lean()
        : Promise.resolve([]),
      section === 'integrations'
        ? db.models.Resource.aggregate<{ _id: string; n: number }>([
            { $group: { _id: '$integration', n: { $sum: 1 } } },
          ])
        : Promise.resolve([]),
      section === 'active'
        ? Request.find({ state: { $in: LIVE } })
            .sort({ expiresAt: 1 })
            .limit(500)
            .lean<RequestDoc[]>()
        : Promise.resolve([]),
      section === 'audit' ? deps.latch.audit.latest(50) : Promise.resolve([]),
    ]);
    model.admin = {
      flows: flows.sort((a, b) => a.name.localeCompare(b.name)),
      integrations: await Promise.all(
        integrations.map(async (i) => {
          const health = await deps.latch.registry
            .get(i.name)
            .then((c) => c.health())
            .catch((err: Error) => ({ ok: false, message: err.message }));
          return {
            name: i.name,
            type: i.type,
            health: health.message,
            healthy: health.ok,
            resources: counts.find((c) => c._id === i.name)?.n ?? 0,
          };
        }),
      ),
      active: active.map(toView),
      settings,
      envAdmins: deps.envAdmins,
      audit: audit.map((e) => ({
        at: new Date(e.at),
        actor: e.actor.id,
        action: e.action,
        subject: e.subject ? `${e.subject.type} ${e.subject.id}` : '',
      })),
    };
  }
  return model;
}

function extendChoices(d: RequestDoc, selfExtension: 'flow' | 'approval' | 'never'): number[] {
  if (d.state !== 'active' || !d.expiresAt || d.pendingExtension) return [];
  const flow = d.flow as Flow;
  const policy = effectiveExtension(flow.extension, selfExtension);
  if (!checkExtension(policy, d.extensionCount ?? 0).ok) return [];
  const choices = flow.duration.choicesMinutes.length ? flow.duration.choicesMinutes : [60, 240];
  return choices
    .filter((m) => flow.duration.maxMinutes === undefined || m <= flow.duration.maxMinutes)
    .slice(0, 3);
}

export function createHomePublisher(deps: Omit<SlackDeps, 'home'>): SlackDeps['home'] {
  return {
    async publish(teamId, userId, nav) {
      const who = await deps.directory.identity(teamId, userId);
      const key = `${teamId ?? '-'}:${userId}`;
      let section = nav?.section as HomeSection | undefined;
      if (section && HOME_SECTIONS.includes(section)) {
        await deps.m.SlackUser.updateOne({ _id: key }, { $set: { homeSection: section } });
      } else {
        const doc = await deps.m.SlackUser.findById(key, { homeSection: 1 }).lean();
        section = (doc?.homeSection as HomeSection | undefined) ?? 'me';
      }
      const model = await homeModel(deps, who, { section, page: nav?.page ?? 0 });
      const client = await deps.workspaces.client(teamId);
      await client.views.publish({ user_id: userId, view: homeView(model) as never });
    },
  };
}
