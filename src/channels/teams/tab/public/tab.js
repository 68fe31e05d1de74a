/*
 * The Teams personal tab (docs/ARCHITECTURE.md, "Teams channel", "Personal tab"): plain browser
 * JavaScript on the Teams JavaScript SDK. It signs in with the token Teams gives it
 * (authentication.getAuthToken) and draws what Latch's tab API answers; every action is decided by
 * Latch on the server. Text from Latch is always set as text, never parsed as HTML.
 */
/* global microsoftTeams, document, window, fetch */
'use strict';

(function () {
  const API = '/teams/tab/api';
  const state = {
    me: undefined,
    section: 'me',
    offers: undefined,
    choice: {
      selected: [],
      bundle: undefined,
      flowId: undefined,
      permission: undefined,
      duration: undefined,
    },
    form: undefined,
    filter: '',
    justification: '',
  };

  // ---- small DOM helpers ----

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'className') node.className = value;
      else if (name === 'value') node.value = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function status(text, isError) {
    const node = document.getElementById('status');
    node.textContent = text || '';
    node.className = isError ? 'error' : '';
  }

  function when(iso) {
    if (!iso) return '';
    return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function minutes(n) {
    if (n === null) return 'indefinitely';
    const d = Math.floor(n / 1440);
    const h = Math.floor((n % 1440) / 60);
    const m = n % 60;
    const part = (v, unit) => (v ? `${v} ${unit}${v === 1 ? '' : 's'}` : '');
    return [part(d, 'day'), part(h, 'hour'), part(m, 'minute')].filter(Boolean).join(' ') || '0 minutes';
  }

  function targets(r) {
    return r.targets.map((t) => `${t.permission} on ${t.resourceName} (${t.integration})`).join(', ');
  }

  // ---- the API, with the token Teams hands out ----

  async function api(method, path, body) {
    const token = await microsoftTeams.authentication.getAuthToken();
    const headers = { authorization: `Bearer ${token}` };
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) headers['x-latch-time-zone'] = zone;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.error || `Latch answered ${res.status}`);
      err.fields = data.fields || (data.field ? { [data.field]: data.error } : undefined);
      throw err;
    }
    return data;
  }

  /** Runs an action from a button: disables it meanwhile, says what happened, redraws. */
  async function act(button, work, done) {
    if (button) button.disabled = true;
    status('');
    try {
      const result = await work();
      status(typeof done === 'function' ? done(result) : done);
      await refresh();
    } catch (err) {
      status(err.message, true);
      if (button) button.disabled = false;
    }
  }

  // ---- sections ----

  const SECTIONS = [
    ['me', 'My access'],
    ['approvals', 'Approvals'],
    ['request', 'Request access'],
  ];
  const ADMIN_SECTIONS = [
    ['flows', 'Access flows'],
    ['integrations', 'Integrations'],
    ['active', 'Active access'],
    ['settings', 'Settings'],
    ['audit', 'Audit'],
  ];

  function drawNav() {
    const nav = document.getElementById('nav');
    const sections = state.me.isAdmin ? SECTIONS.concat(ADMIN_SECTIONS) : SECTIONS;
    nav.replaceChildren(
      ...sections.map(([id, label]) => {
        const count = id === 'approvals' ? state.me.waitingOnMe.length : 0;
        return el(
          'button',
          {
            type: 'button',
            'aria-current': state.section === id ? 'page' : undefined,
            onclick: () => show(id),
          },
          count ? `${label} (${count})` : label,
        );
      }),
    );
  }

  async function show(section) {
    state.section = section;
    // What may be asked for changes with the flows: read it again each time the form opens.
    if (section === 'request') state.offers = undefined;
    status('');
    await draw();
  }

  async function refresh() {
    state.me = await api('GET', '/me');
    document.getElementById('who').textContent = `Signed in as ${state.me.me.id}`;
    await draw();
  }

  async function draw() {
    drawNav();
    const main = document.getElementById('main');
    const drawers = {
      me: drawMine,
      approvals: drawApprovals,
      request: drawRequestForm,
      flows: drawFlows,
      integrations: drawIntegrations,
      active: drawActive,
      settings: drawSettings,
      audit: drawAudit,
    };
    try {
      main.replaceChildren(...(await (drawers[state.section] || drawMine)()));
    } catch (err) {
      main.replaceChildren(el('p', { className: 'error' }, err.message));
    }
  }

  /** A button that asks once more before it acts. */
  function confirmButton(label, question, onConfirm, extra) {
    const holder = el('span', { className: 'actions' });
    const first = el('button', { type: 'button', className: 'danger' }, label);
    first.addEventListener('click', () => {
      const yes = el('button', { type: 'button', className: 'danger' }, `Yes, ${label.toLowerCase()}`);
      const no = el('button', { type: 'button' }, 'Keep it');
      yes.addEventListener('click', () => onConfirm(yes, extra));
      no.addEventListener('click', () => holder.replaceChildren(first));
      holder.replaceChildren(el('span', {}, question), ...(extra ? [extra.node] : []), yes, no);
    });
    holder.append(first);
    return holder;
  }

  function drawMine() {
    const { active, pending } = state.me.mine;
    const out = [el('h2', {}, 'Your active access')];
    if (active.length === 0)
      out.push(el('p', { className: 'muted' }, 'Nothing active. Use Request access to ask for something.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Your active access' },
        active.map(({ request: r, extension }) =>
          el(
            'li',
            { className: 'item' },
            el('div', { className: 'title' }, `${r.id} · ${targets(r)}`),
            el(
              'div',
              { className: 'muted' },
              r.state === 'revoking'
                ? 'Being revoked'
                : r.expiresAt
                  ? `Until ${when(r.expiresAt)}`
                  : 'Until you revoke it',
            ),
            el(
              'div',
              { className: 'actions' },
              r.state === 'active'
                ? confirmButton('Revoke', `End ${r.id} now?`, (button) =>
                    act(
                      button,
                      () => api('POST', `/requests/${r.id}/revoke`, {}),
                      `${r.id} is being revoked.`,
                    ),
                  )
                : undefined,
              extension.allowed
                ? extension.choicesMinutes.map((m) =>
                    el(
                      'button',
                      {
                        type: 'button',
                        onclick: (e) =>
                          act(
                            e.currentTarget,
                            () => api('POST', `/requests/${r.id}/extend`, { minutes: m }),
                            (res) =>
                              extension.needsApproval
                                ? `Extending ${r.id} by ${minutes(m)} is asked for; an approver decides.`
                                : `${r.id} now lasts until ${when(res.request.expiresAt)}.`,
                          ),
                      },
                      `Extend ${minutes(m)}${extension.needsApproval ? ' (needs approval)' : ''}`,
                    ),
                  )
                : undefined,
            ),
          ),
        ),
      ),
    );
    out.push(el('h2', {}, 'Your open requests'));
    if (pending.length === 0) out.push(el('p', { className: 'muted' }, 'No requests waiting.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Your open requests' },
        pending.map((r) =>
          el(
            'li',
            { className: 'item' },
            el('div', { className: 'title' }, `${r.id} · ${targets(r)}`),
            el('div', { className: 'muted' }, `For ${minutes(r.durationMinutes)} · ${r.stateLabel}`),
            el(
              'div',
              { className: 'actions' },
              el(
                'button',
                {
                  type: 'button',
                  onclick: (e) =>
                    act(
                      e.currentTarget,
                      () => api('POST', `/requests/${r.id}/cancel`, {}),
                      `${r.id} is cancelled.`,
                    ),
                },
                'Cancel',
              ),
            ),
          ),
        ),
      ),
    );
    return out;
  }

  function drawApprovals() {
    const waiting = state.me.waitingOnMe;
    const out = [el('h2', {}, 'Waiting on you')];
    if (waiting.length === 0)
      out.push(el('p', { className: 'muted' }, 'Nothing is waiting for your approval.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Waiting on you' },
        waiting.map((r) => {
          const reasonId = `reason-${r.id}`;
          const reason = el('textarea', { id: reasonId, maxlength: 1000 });
          const error = el('p', { className: 'error' });
          const decide = (verb, done) => async (e) => {
            const button = e.currentTarget;
            button.disabled = true;
            error.textContent = '';
            try {
              await api('POST', `/requests/${r.id}/${verb}`, { reason: reason.value });
              status(done);
              await refresh();
            } catch (err) {
              error.textContent = err.message;
              button.disabled = false;
            }
          };
          return el(
            'li',
            { className: 'item' },
            el(
              'div',
              { className: 'title' },
              `${r.id} · ${r.requester.displayName || r.requester.email} asks for ${targets(r)} for ${minutes(r.durationMinutes)}`,
            ),
            r.justification ? el('div', { className: 'quote' }, r.justification) : undefined,
            el('label', { for: reasonId }, 'Reason (needed to deny)'),
            reason,
            error,
            el(
              'div',
              { className: 'actions' },
              el(
                'button',
                { type: 'button', className: 'primary', onclick: decide('approve', `You approved ${r.id}.`) },
                'Approve',
              ),
              el(
                'button',
                { type: 'button', className: 'danger', onclick: decide('deny', `You denied ${r.id}.`) },
                'Deny',
              ),
            ),
          );
        }),
      ),
    );
    return out;
  }

  // ---- the request form: the core's options for the current choice ----

  async function loadForm() {
    state.form = await api('POST', '/options', state.choice);
    if (state.choice.duration === undefined && state.form.selectedDuration !== undefined)
      state.choice.duration = state.form.selectedDuration;
    if (!state.choice.permission && state.form.permissions.length === 1)
      state.choice.permission = state.form.permissions[0];
  }

  async function choose(change) {
    Object.assign(state.choice, change);
    // A new choice of what or how may change the permissions and durations on offer.
    state.choice.permission = change.permission !== undefined ? change.permission : undefined;
    state.choice.duration = undefined;
    await loadForm();
    await draw();
  }

  async function drawRequestForm() {
    if (!state.offers) state.offers = await api('GET', '/offers');
    if (!state.form) await loadForm();
    const f = state.form;
    if (!f.anything)
      return [
        el('h2', {}, 'Request access'),
        el(
          'p',
          { className: 'muted' },
          'There is nothing you can ask for right now: no access flow lists you, or its resources are outside its hours. An admin can add you to a flow.',
        ),
      ];
    const shown = new Set(f.shown);
    const errors = {};
    for (const field of f.shown) errors[field] = el('p', { className: 'error', id: `error-${field}` });

    const filter = el('input', {
      type: 'search',
      id: 'resource-filter',
      placeholder: 'Search resources',
      value: state.filter,
      'aria-label': 'Search resources',
    });
    const list = el('div', { className: 'choices', role: 'group', 'aria-labelledby': 'resources-label' });
    const drawChoices = () => {
      const words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
      const matches = state.offers.offers.filter(
        (o) => state.choice.selected.includes(o.key) || words.every((w) => o.label.toLowerCase().includes(w)),
      );
      list.replaceChildren(
        ...matches.slice(0, 100).map((o) =>
          el(
            'label',
            {},
            el('input', {
              type: 'checkbox',
              checked: state.choice.selected.includes(o.key),
              onchange: (e) =>
                choose({
                  selected: e.currentTarget.checked
                    ? state.choice.selected.concat(o.key)
                    : state.choice.selected.filter((k) => k !== o.key),
                  bundle: undefined,
                  flowId: undefined,
                }),
            }),
            ` ${o.label}`,
          ),
        ),
        ...(matches.length > 100
          ? [el('p', { className: 'muted' }, `…and ${matches.length - 100} more: search.`)]
          : []),
      );
    };
    filter.addEventListener('input', () => {
      state.filter = filter.value;
      drawChoices();
    });
    drawChoices();

    const fields = [
      el(
        'div',
        { className: 'field' },
        el('label', { id: 'resources-label', for: 'resource-filter' }, 'Resources'),
        filter,
        list,
        errors.targets,
      ),
    ];
    if (shown.has('bundle'))
      fields.push(
        el(
          'div',
          { className: 'field' },
          el('label', { for: 'bundle' }, '…or a bundle'),
          el(
            'select',
            {
              id: 'bundle',
              onchange: (e) =>
                choose({ bundle: e.currentTarget.value || undefined, selected: [], flowId: undefined }),
            },
            el('option', { value: '' }, '—'),
            f.bundles.map((b) => el('option', { value: b, selected: f.selectedBundle === b }, b)),
          ),
          errors.bundle,
        ),
      );
    if (shown.has('flow'))
      fields.push(
        el(
          'div',
          { className: 'field' },
          el('label', { for: 'flow' }, 'Access flow'),
          el(
            'select',
            { id: 'flow', onchange: (e) => choose({ flowId: e.currentTarget.value }) },
            f.flows.map((fl) =>
              el('option', { value: fl.id, selected: f.selectedFlowId === fl.id }, fl.name),
            ),
          ),
          errors.flow,
        ),
      );
    if (shown.has('permission'))
      fields.push(
        el(
          'div',
          { className: 'field' },
          el('label', { for: 'permission' }, 'Permission'),
          el(
            'select',
            {
              id: 'permission',
              onchange: (e) => {
                state.choice.permission = e.currentTarget.value || undefined;
              },
            },
            el('option', { value: '' }, 'Choose a permission'),
            f.permissions.map((p) => el('option', { value: p, selected: state.choice.permission === p }, p)),
          ),
          errors.permission,
        ),
      );
    if (shown.has('duration'))
      fields.push(
        el(
          'div',
          { className: 'field' },
          el('label', { for: 'duration' }, 'For how long'),
          el(
            'select',
            {
              id: 'duration',
              onchange: (e) => {
                const v = e.currentTarget.value;
                state.choice.duration = v === 'indefinite' ? null : Number(v);
              },
            },
            f.durations.map((d) =>
              el(
                'option',
                { value: d === null ? 'indefinite' : String(d), selected: state.choice.duration === d },
                minutes(d),
              ),
            ),
          ),
          errors.duration,
        ),
      );
    const justification = el('textarea', {
      id: 'justification',
      maxlength: 2000,
      placeholder: 'A ticket, an incident, a sentence for the approver',
      required: f.justificationRequired,
    });
    justification.value = state.justification;
    justification.addEventListener('input', () => {
      state.justification = justification.value;
    });
    fields.push(
      el(
        'div',
        { className: 'field' },
        el(
          'label',
          { for: 'justification' },
          f.justificationRequired ? 'Why do you need it?' : 'Why do you need it? (optional)',
        ),
        justification,
        errors.justification,
      ),
    );
    if (f.notes.length) fields.push(...f.notes.map((n) => el('p', { className: 'muted' }, n)));
    const submit = el('button', { type: 'submit', className: 'primary' }, 'Request');
    fields.push(el('div', { className: 'actions' }, submit));

    const form = el('form', { 'aria-label': 'Request access', novalidate: true }, fields);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      submit.disabled = true;
      status('');
      for (const node of Object.values(errors)) node.textContent = '';
      try {
        const body = Object.assign({}, state.choice, { justification: state.justification });
        const res = await api('POST', '/requests', body);
        state.choice = {
          selected: [],
          bundle: undefined,
          flowId: undefined,
          permission: undefined,
          duration: undefined,
        };
        state.form = undefined;
        state.justification = '';
        state.section = 'me';
        status(
          res.auto
            ? `${res.request.id} is approved automatically: ${targets(res.request)}. Latch is granting it now.`
            : `${res.request.id} is submitted: ${targets(res.request)}. Waiting for ${res.waitingOn}.`,
        );
        await refresh();
      } catch (err) {
        let placed = false;
        for (const [field, text] of Object.entries(err.fields || {})) {
          if (errors[field]) {
            errors[field].textContent = text;
            placed = true;
          }
        }
        if (!placed) status(err.message, true);
        submit.disabled = false;
      }
    });
    return [el('h2', {}, 'Request access'), form];
  }

  // ---- the admin console ----

  async function drawFlows() {
    const { flows } = await api('GET', '/admin/flows');
    const out = [el('h2', {}, 'Access flows')];
    if (flows.length === 0)
      out.push(el('p', { className: 'muted' }, 'No flows yet: only the fallback flow applies.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Access flows' },
        flows.map((f) =>
          el(
            'li',
            { className: 'item' },
            el('div', { className: 'title' }, f.enabled ? f.name : `${f.name} (disabled)`),
            el('div', { className: 'muted' }, f.summary),
            el(
              'div',
              { className: 'actions' },
              el(
                'button',
                {
                  type: 'button',
                  onclick: (e) =>
                    act(
                      e.currentTarget,
                      () =>
                        api('POST', `/admin/flows/${encodeURIComponent(f.id)}/enabled`, {
                          enabled: !f.enabled,
                        }),
                      `${f.name} is ${f.enabled ? 'disabled' : 'enabled'}.`,
                    ),
                },
                f.enabled ? 'Disable' : 'Enable',
              ),
            ),
          ),
        ),
      ),
    );
    out.push(el('p', { className: 'muted' }, 'Create and edit flows in Slack’s App Home or the flows file.'));
    return out;
  }

  async function drawIntegrations() {
    const { integrations } = await api('GET', '/admin/integrations');
    const out = [el('h2', {}, 'Integrations')];
    if (integrations.length === 0) out.push(el('p', { className: 'muted' }, 'No integrations yet.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Integrations' },
        integrations.map((i) =>
          el(
            'li',
            { className: 'item' },
            el('div', { className: 'title' }, `${i.name} · ${i.type} · ${i.resources} resources`),
            el(
              'div',
              { className: i.healthy ? 'health-ok' : 'health-bad' },
              `${i.healthy ? '● healthy' : '● unhealthy'}: ${i.health}`,
            ),
          ),
        ),
      ),
    );
    return out;
  }

  async function drawActive() {
    const { active, revocable } = await api('GET', '/admin/active');
    const out = [el('h2', {}, 'Active access across the organisation')];
    const reason = el('input', { type: 'text', id: 'revoke-all-reason', maxlength: 1000 });
    const typed = el('input', { type: 'text', id: 'revoke-all-confirm', autocomplete: 'off' });
    const errors = { reason: el('p', { className: 'error' }), confirm: el('p', { className: 'error' }) };
    const panel = el(
      'div',
      { className: 'item', hidden: true },
      el(
        'p',
        {},
        `This ends all ${revocable} active or approved access grants in the organisation at once. Everyone affected is told, with your reason.`,
      ),
      el('label', { for: 'revoke-all-reason' }, 'Reason'),
      reason,
      errors.reason,
      el('label', { for: 'revoke-all-confirm' }, 'Type REVOKE ALL to confirm'),
      typed,
      errors.confirm,
      el(
        'div',
        { className: 'actions' },
        el(
          'button',
          {
            type: 'button',
            className: 'danger',
            onclick: async (e) => {
              const button = e.currentTarget;
              button.disabled = true;
              errors.reason.textContent = errors.confirm.textContent = '';
              try {
                const res = await api('POST', '/admin/revoke-all', {
                  reason: reason.value,
                  confirm: typed.value,
                });
                status(`Revoking ${res.revoking} grants.`);
                await refresh();
              } catch (err) {
                for (const [field, text] of Object.entries(err.fields || {}))
                  if (errors[field]) errors[field].textContent = text;
                if (!err.fields) status(err.message, true);
                button.disabled = false;
              }
            },
          },
          'Revoke all',
        ),
      ),
    );
    out.push(
      el(
        'div',
        { className: 'actions' },
        el(
          'button',
          {
            type: 'button',
            className: 'danger',
            onclick: () => {
              panel.hidden = !panel.hidden;
            },
          },
          'Revoke everything…',
        ),
      ),
      panel,
    );
    if (active.length === 0)
      out.push(el('p', { className: 'muted' }, 'Nobody has access through Latch right now.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Active access across the organisation' },
        active.map((r) => {
          const why = el('input', {
            type: 'text',
            maxlength: 1000,
            placeholder: 'Reason (the requester sees it)',
          });
          return el(
            'li',
            { className: 'item' },
            el(
              'div',
              { className: 'title' },
              `${r.id} · ${r.requester.displayName || r.requester.email} · ${targets(r)}`,
            ),
            el(
              'div',
              { className: 'muted' },
              r.state === 'revoking'
                ? 'Being revoked'
                : r.expiresAt
                  ? `Until ${when(r.expiresAt)}`
                  : 'Until revoked by hand',
            ),
            r.state === 'active'
              ? confirmButton(
                  'Revoke',
                  `End ${r.id} now?`,
                  (button) =>
                    act(
                      button,
                      () => api('POST', `/requests/${r.id}/revoke`, { reason: why.value }),
                      `${r.id} is being revoked.`,
                    ),
                  { node: why },
                )
              : undefined,
          );
        }),
      ),
    );
    return out;
  }

  async function drawSettings() {
    const { settings: s } = await api('GET', '/admin/settings');
    const approvers = s.fallback.approvers.length
      ? s.fallback.approvers.map((a) => (a.type === 'resource_owner' ? 'resource owners' : a.id)).join(', ')
      : 'the admins';
    const rows = [
      ['Admins', s.admins.join(', ') || 'only those set in LATCH_ADMINS'],
      [
        'Fallback flow',
        s.fallback.enabled
          ? `on, approved by ${approvers}, at most ${minutes(s.fallback.maxMinutes)}`
          : 'off',
      ],
      [
        'Self-extension',
        { flow: "each flow's rule", approval: 'always needs an approver', never: 'never allowed' }[
          s.selfExtension
        ],
      ],
      ['Expiry warning', s.expiryWarningMinutes ? `${s.expiryWarningMinutes} minutes before` : 'off'],
      ['Audit channel', s.auditChannel || 'none'],
    ];
    return [
      el('h2', {}, 'Settings'),
      el(
        'dl',
        { className: 'settings' },
        rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
      ),
      el(
        'p',
        { className: 'muted' },
        'Settings are shown here; change them in Slack’s App Home or the flows file.',
      ),
    ];
  }

  async function drawAudit() {
    const { entries } = await api('GET', '/admin/audit');
    const out = [el('h2', {}, 'Latest audit events')];
    if (entries.length === 0) out.push(el('p', { className: 'muted' }, 'Nothing yet.'));
    else
      out.push(
        el(
          'table',
          { className: 'audit' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', {}, 'When'),
              el('th', {}, 'What'),
              el('th', {}, 'Subject'),
              el('th', {}, 'Who'),
            ),
          ),
          el(
            'tbody',
            {},
            entries.map((e) =>
              el(
                'tr',
                {},
                el('td', {}, when(e.at)),
                el('td', {}, e.action),
                el('td', {}, e.subject),
                el('td', {}, e.actor),
              ),
            ),
          ),
        ),
      );
    out.push(el('p', { className: 'muted' }, 'The full, tamper-evident log: npm run audit -- export.'));
    return out;
  }

  // ---- start ----

  async function start() {
    if (typeof microsoftTeams === 'undefined') {
      status('The Teams SDK did not load.', true);
      return;
    }
    try {
      await microsoftTeams.app.initialize();
    } catch {
      document
        .getElementById('main')
        .replaceChildren(el('p', {}, 'Open Latch from Microsoft Teams: this page is its personal tab.'));
      return;
    }
    try {
      await refresh();
    } catch (err) {
      document
        .getElementById('main')
        .replaceChildren(el('p', { className: 'error' }, `Latch could not sign you in: ${err.message}`));
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
  window.latchTab = { refresh };
})();
