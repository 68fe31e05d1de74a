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
import type { Identity } from '../../domain/identity.js';
import type { SlackDeps } from './context.js';
import { standingHome } from './standing.js';

/** App Home for `who`, from the core's queries; admin sections only for admins. */
export async function homeModel(
  deps: Omit<SlackDeps, 'home'>,
  who: Identity,
  nav: { section: HomeSection; page: number },
): Promise<HomeModel> {
  const q = deps.latch.queries;
  const isAdmin = await q.isAdmin(who);
  const section = isAdmin || !ADMIN_SECTIONS.includes(nav.section) ? nav.section : 'me';
  const [mine, waitingOnMe] = await Promise.all([q.myAccess(who), q.awaitingMe(who)]);
  const model: HomeModel = {
    isAdmin,
    section,
    page: nav.page,
    timeZone: who.timeZone,
    mine: {
      active: mine.active.map((a) => ({ request: a.request, extendMinutes: a.extension.choicesMinutes })),
      pending: mine.pending,
    },
    waitingOnMe,
  };
  if (isAdmin) {
    const [settings, flows, integrations, active, audit, sources, reviews, standing, webhooks] =
      await Promise.all([
        q.settings(who),
        q.flows(who),
        section === 'integrations' ? q.integrations(who) : Promise.resolve([]),
        section === 'active' ? q.activeAccess(who) : Promise.resolve([]),
        section === 'audit' ? q.auditPage(who, 50) : Promise.resolve([]),
        section === 'integrations' ? q.contextSources(who) : Promise.resolve([]),
        // Always read: the nav shows how many reviews are open, whatever the section.
        q.openReviews(who),
        // The nav shows how much standing access there is; the list only in its section.
        standingHome(q, who, section, nav.page),
        section === 'webhooks' ? q.webhooks(who) : Promise.resolve([]),
      ]);
    model.admin = {
      flows,
      integrations,
      active,
      settings,
      envAdmins: deps.envAdmins,
      audit,
      sources,
      reviews,
      standing,
      webhooks,
    };
  }
  return model;
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
      await client.views.publish({ user_id: userId, view: homeView(model) });
    },
  };
}
