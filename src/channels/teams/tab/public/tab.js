/*
 * The Teams personal tab (docs/ARCHITECTURE.md, "Teams channel", "Personal tab"): plain browser
 * JavaScript on the Teams JavaScript SDK. It signs in with the token Teams gives it
 * (authentication.getAuthToken) and draws what Latch's tab API answers; every action is decided by
 * Latch on the server. Text from Latch is always set as text, never parsed as HTML.
 */
/* global microsoftTeams, document, window, fetch, CSS */
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
    /** The flow or integration being edited in the console: { id, data } / { name, data, m }. */
    flowEdit: undefined,
    integrationEdit: undefined,
    /** The context source being edited: { name, data, m }. */
    sourceEdit: undefined,
    /** Standing access: the page shown (offset) and the entry being converted ({ item, flows, m }). */
    standingOffset: 0,
    standingConvert: undefined,
    /** The webhook being edited: { id, events, m }; a secret Latch generated, shown until Done: { name, secret }. */
    webhookEdit: undefined,
    webhookSecret: undefined,
    /** The webhook whose last deliveries are open: { id, webhook }. */
    webhookDeliveries: undefined,
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
    for (const child of children.flat(Infinity)) {
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
    ['reviews', 'Reviews'],
    ['standing', 'Standing access'],
    ['webhooks', 'Webhooks'],
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
    // Leaving a section closes its editor, unsaved.
    state.flowEdit = undefined;
    state.integrationEdit = undefined;
    state.sourceEdit = undefined;
    state.standingConvert = undefined;
    state.standingOffset = 0;
    state.webhookEdit = undefined;
    state.webhookSecret = undefined;
    state.webhookDeliveries = undefined;
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
      reviews: drawReviews,
      standing: drawStanding,
      webhooks: drawWebhooks,
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

  // The editors' forms (docs/ARCHITECTURE.md, "Personal tab"): what they send is checked by Latch,
  // which answers each problem keyed by field; the page shows it under that field.

  let fieldIds = 0;

  /** An error line for a field key (`name`, `targets.0.permissions`, ...), found by showErrors. */
  function errorSlot(key) {
    return el('p', { className: 'error', 'data-error-for': key, id: `error-${++fieldIds}` });
  }

  /** A labelled control with its hint and its error line, wired for screen readers. */
  function field(label, control, key, hint) {
    if (!control.id) control.id = `field-${++fieldIds}`;
    const error = errorSlot(key);
    const hintNode = hint ? el('p', { className: 'hint muted', id: `hint-${++fieldIds}` }, hint) : undefined;
    control.setAttribute('aria-describedby', [hintNode && hintNode.id, error.id].filter(Boolean).join(' '));
    return el(
      'div',
      { className: 'field' },
      el('label', { for: control.id }, label),
      control,
      hintNode,
      error,
    );
  }

  /** A checkbox inside its label (its accessible name). */
  function checkbox(label, checked, onchange) {
    return el(
      'label',
      { className: 'check' },
      el('input', { type: 'checkbox', checked, onchange: (e) => onchange(e.currentTarget.checked) }),
      ` ${label}`,
    );
  }

  function textInput(value, oninput, attrs) {
    const node = el('input', Object.assign({ type: 'text' }, attrs || {}));
    node.value = value === undefined || value === null ? '' : String(value);
    node.addEventListener('input', () => oninput(node.value));
    return node;
  }

  function textArea(value, oninput, attrs) {
    const node = el('textarea', attrs || {});
    node.value = value || '';
    node.addEventListener('input', () => oninput(node.value));
    return node;
  }

  function select(options, value, onchange, attrs) {
    return el(
      'select',
      Object.assign({ onchange: (e) => onchange(e.currentTarget.value) }, attrs || {}),
      options.map(([v, text]) => el('option', { value: v, selected: String(value) === String(v) }, text)),
    );
  }

  /** Puts each of the answer's field errors under its field (or the nearest enclosing one). */
  function showErrors(form, err) {
    for (const node of form.querySelectorAll('[data-error-for]')) node.textContent = '';
    let placed = false;
    for (const [key, text] of Object.entries(err.fields || {})) {
      let at = key;
      let slot;
      for (;;) {
        slot = form.querySelector(`[data-error-for="${CSS.escape(at)}"]`);
        if (slot || !at.includes('.')) break;
        at = at.slice(0, at.lastIndexOf('.'));
      }
      if (slot) {
        slot.textContent = text;
        placed = true;
      }
    }
    status(placed ? 'Some answers need another look.' : err.message, true);
    const first = form.querySelector('[data-error-for]:not(:empty)');
    if (first) first.scrollIntoView({ block: 'center' });
  }

  /** A form that posts `body()` and, once Latch accepts it, says `done(result)` and closes the editor. */
  function editorForm(label, fields, body, path, done, close) {
    const save = el('button', { type: 'submit', className: 'primary' }, 'Save');
    const cancel = el('button', { type: 'button', onclick: () => close(false) }, 'Cancel');
    const form = el(
      'form',
      { 'aria-label': label, novalidate: true, className: 'editor' },
      fields,
      el('div', { className: 'actions' }, save, cancel),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        const result = await api('POST', path, body());
        const said = done(result);
        close(true);
        await draw();
        status(said.text, said.isError);
      } catch (err) {
        showErrors(form, err);
        save.disabled = false;
      }
    });
    return form;
  }

  async function drawFlows() {
    if (state.flowEdit) return drawFlowEditor();
    const { flows } = await api('GET', '/admin/flows');
    const out = [
      el('h2', {}, 'Access flows'),
      el(
        'div',
        { className: 'actions' },
        el('button', { type: 'button', className: 'primary', onclick: () => openFlowEditor() }, 'New flow'),
      ),
    ];
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
              el('button', { type: 'button', onclick: () => openFlowEditor(f.id) }, 'Edit'),
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
              confirmButton('Delete', `Delete ${f.name}? Requests already made keep their rules.`, (button) =>
                act(
                  button,
                  () => api('POST', `/admin/flows/${encodeURIComponent(f.id)}/delete`, {}),
                  `${f.name} is deleted.`,
                ),
              ),
            ),
          ),
        ),
      ),
    );
    return out;
  }

  async function openFlowEditor(id) {
    status('');
    try {
      const data = await api('GET', id ? `/admin/flows/${encodeURIComponent(id)}/edit` : '/admin/flows/new');
      state.flowEdit = { id, data };
      await draw();
    } catch (err) {
      status(err.message, true);
    }
  }

  function drawFlowEditor() {
    const { id, data } = state.flowEdit;
    const m = data.form;
    const c = data.choices;
    const redraw = () => draw();
    const minutesOptions = c.durations.map((d) => [String(d), minutes(d)]);

    const targets = m.targets.map((t, i) => {
      const ofIntegration = c.resources.filter((r) => r.integration === t.integration);
      const permissions = [
        ...new Set(
          ofIntegration
            .flatMap((r) => r.permissions)
            .concat(t.permissions)
            .concat(ofIntegration.length ? [] : c.permissions),
        ),
      ];
      return el(
        'fieldset',
        {},
        el('legend', {}, `Target ${i + 1}`),
        field(
          'Integration',
          select(
            [['', 'Choose an integration']].concat(c.integrations.map((n) => [n, n])),
            t.integration,
            (v) => {
              t.integration = v;
              t.resources = [];
              redraw();
            },
          ),
          `targets.${i}.integration`,
        ),
        t.integration
          ? el(
              'div',
              { className: 'field' },
              el('span', { className: 'label', id: `resources-${i}` }, 'Resources'),
              el(
                'div',
                { className: 'choices', role: 'group', 'aria-labelledby': `resources-${i}` },
                ofIntegration.length
                  ? ofIntegration.map((r) =>
                      checkbox(r.name, t.resources.includes(r.id), (on) => {
                        t.resources = on ? t.resources.concat(r.id) : t.resources.filter((x) => x !== r.id);
                      }),
                    )
                  : el('p', { className: 'muted' }, 'No resources found yet.'),
              ),
            )
          : undefined,
        t.integration
          ? field(
              'Resources by name or tag',
              textInput(t.selectors, (v) => (t.selectors = v), { maxlength: 5000 }),
              `targets.${i}.resources`,
              'Names, or tag=value, separated by commas. Nothing ticked or named: every resource of the integration.',
            )
          : undefined,
        t.integration
          ? el(
              'div',
              { className: 'field' },
              el('span', { className: 'label', id: `permissions-${i}` }, 'Permissions'),
              el(
                'div',
                { className: 'inline', role: 'group', 'aria-labelledby': `permissions-${i}` },
                permissions.map((p) =>
                  checkbox(p, t.permissions.includes(p), (on) => {
                    t.permissions = on ? t.permissions.concat(p) : t.permissions.filter((x) => x !== p);
                  }),
                ),
              ),
              errorSlot(`targets.${i}.permissions`),
            )
          : undefined,
        m.targets.length > 1
          ? el(
              'button',
              {
                type: 'button',
                onclick: () => {
                  m.targets.splice(i, 1);
                  redraw();
                },
              },
              `Remove target ${i + 1}`,
            )
          : undefined,
      );
    });

    const steps = m.steps.map((s, i) =>
      el(
        'fieldset',
        {},
        el('legend', {}, `Step ${i + 1}`),
        field(
          'Approvers',
          textArea(s.people, (v) => (s.people = v), { maxlength: 20000 }),
          `steps.${i}.approvers`,
          i === 0
            ? 'Emails, separated by commas. Nobody in any step: requests are approved automatically.'
            : 'Emails, separated by commas.',
        ),
        field(
          'Approver groups',
          textInput(s.groups, (v) => (s.groups = v), { maxlength: 20000 }),
          `steps.${i}.groups`,
        ),
        checkbox('Resource owners approve too', s.owners, (on) => (s.owners = on)),
        checkbox("The requester's manager approves", s.manager, (on) => (s.manager = on)),
        field(
          'How many must approve',
          select(
            [
              ['any', 'Any one of them'],
              ['all', 'All of them'],
              ['quorum', 'A number of them'],
            ],
            s.rule,
            (v) => {
              s.rule = v;
              redraw();
            },
          ),
          `steps.${i}.rule`,
        ),
        s.rule === 'quorum'
          ? field(
              'Number of approvals needed',
              textInput(s.quorum, (v) => (s.quorum = v), { inputmode: 'numeric', maxlength: 3 }),
              `steps.${i}.quorum`,
            )
          : undefined,
        m.steps.length > 1
          ? el(
              'button',
              {
                type: 'button',
                onclick: () => {
                  m.steps.splice(i, 1);
                  redraw();
                },
              },
              `Remove step ${i + 1}`,
            )
          : undefined,
      ),
    );

    const fields = [
      field(
        'Name',
        textInput(m.name, (v) => (m.name = v), { maxlength: 80 }),
        'name',
      ),
      field(
        'Description (optional)',
        textArea(m.description, (v) => (m.description = v), { maxlength: 500 }),
        'description',
      ),
      el(
        'fieldset',
        {},
        el('legend', {}, 'Who may ask'),
        checkbox('Everyone', m.everyone, (on) => (m.everyone = on)),
        field(
          'People',
          textArea(m.people, (v) => (m.people = v), { maxlength: 20000 }),
          'grantees.people',
          'Emails, separated by commas.',
        ),
        field(
          'Groups',
          textInput(m.groups, (v) => (m.groups = v), { maxlength: 20000 }),
          'grantees.groups',
          'Group names (Slack user groups), separated by commas.',
        ),
        errorSlot('grantees'),
        field(
          'Who may be asked for',
          select(
            [
              ['self', 'Only themselves'],
              ['anyone', 'Anyone who may have it'],
              ['reports', 'Their direct reports'],
            ],
            m.requestFor || 'self',
            (v) => (m.requestFor = v),
          ),
          'requestFor',
          'A grantee may ask on behalf of these people; the access is theirs, they are told and can decline.',
        ),
      ),
      el(
        'fieldset',
        {},
        el('legend', {}, 'What'),
        targets,
        el(
          'button',
          {
            type: 'button',
            onclick: () => {
              m.targets.push({ integration: '', resources: [], selectors: '', permissions: [] });
              redraw();
            },
          },
          'Add a target',
        ),
        c.bundles.length
          ? el(
              'div',
              { className: 'field' },
              el('span', { className: 'label', id: 'bundles-label' }, 'Bundles'),
              el(
                'div',
                { className: 'inline', role: 'group', 'aria-labelledby': 'bundles-label' },
                c.bundles.map((b) =>
                  checkbox(b, m.bundles.includes(b), (on) => {
                    m.bundles = on ? m.bundles.concat(b) : m.bundles.filter((x) => x !== b);
                  }),
                ),
              ),
            )
          : undefined,
        errorSlot('bundles'),
        errorSlot('targets'),
      ),
      el(
        'fieldset',
        {},
        el('legend', {}, 'Approval'),
        steps,
        m.steps.length < 10
          ? el(
              'button',
              {
                type: 'button',
                onclick: () => {
                  m.steps.push({
                    people: '',
                    groups: '',
                    owners: false,
                    manager: false,
                    rule: 'any',
                    quorum: '',
                  });
                  redraw();
                },
              },
              'Add a step',
            )
          : undefined,
        errorSlot('steps'),
        field(
          'Undecided requests time out after (hours)',
          textInput(m.timeoutHours, (v) => (m.timeoutHours = v), { inputmode: 'numeric', maxlength: 5 }),
          'timeoutHours',
        ),
        field(
          'Remind approvers after (minutes, 0 = never)',
          textInput(m.reminderMinutes, (v) => (m.reminderMinutes = v), {
            inputmode: 'numeric',
            maxlength: 6,
          }),
          'reminderMinutes',
        ),
        field(
          'Escalate undecided requests after (minutes, empty = never)',
          textInput(m.escalateMinutes, (v) => (m.escalateMinutes = v), {
            inputmode: 'numeric',
            maxlength: 6,
          }),
          'escalateMinutes',
        ),
        field(
          'Escalate to people (emails; none and no group: the admins)',
          textInput(m.escalatePeople, (v) => (m.escalatePeople = v), {}),
          'escalateTo',
        ),
        field(
          'Escalate to groups',
          textInput(m.escalateGroups, (v) => (m.escalateGroups = v), {}),
          'escalateGroups',
        ),
        checkbox('Approvers must give a reason', m.requireReason, (on) => (m.requireReason = on)),
        checkbox(
          'Requesters may approve their own requests',
          m.allowSelfApproval,
          (on) => (m.allowSelfApproval = on),
        ),
        checkbox(
          'Allow break-glass: a requester approves their own request in an emergency, with a reason; every admin is told and one reviews it',
          m.breakGlass,
          (on) => (m.breakGlass = on),
        ),
      ),
      el(
        'fieldset',
        {},
        el('legend', {}, 'Duration and extensions'),
        field(
          'Longest duration',
          select([['', 'No longest']].concat(minutesOptions), m.maxMinutes, (v) => (m.maxMinutes = v)),
          'maxMinutes',
        ),
        el(
          'div',
          { className: 'field' },
          el('span', { className: 'label', id: 'choices-label' }, 'Durations offered (optional)'),
          el(
            'div',
            { className: 'inline', role: 'group', 'aria-labelledby': 'choices-label' },
            c.durations.map((d) =>
              checkbox(minutes(d), m.choices.includes(d), (on) => {
                m.choices = on ? m.choices.concat(d) : m.choices.filter((x) => x !== d);
              }),
            ),
          ),
          el('p', { className: 'hint muted' }, 'None ticked: any duration up to the longest.'),
          errorSlot('choices'),
        ),
        checkbox('Indefinite access may be asked for', m.indefinite, (on) => (m.indefinite = on)),
        errorSlot('indefinite'),
        field(
          'Extensions',
          select(
            [
              ['none', 'Not allowed'],
              ['direct', 'Requester extends directly'],
              ['approval', 'An approver must agree'],
            ],
            m.extensionMode,
            (v) => (m.extensionMode = v),
          ),
          'extensionMode',
        ),
        field(
          'At most this many extensions',
          textInput(m.extensionCount, (v) => (m.extensionCount = v), { inputmode: 'numeric', maxlength: 3 }),
          'extensionCount',
        ),
        checkbox('Requesters must justify', m.requireJustification, (on) => (m.requireJustification = on)),
        errorSlot('requireJustification'),
        checkbox(
          'Re-apply access removed outside Latch (off: reconciliation only reports it)',
          m.reapplyOnDrift,
          (on) => (m.reapplyOnDrift = on),
        ),
      ),
      data.kept.map((k) => el('p', { className: 'muted' }, k)),
    ];
    const close = () => {
      state.flowEdit = undefined;
    };
    return [
      el('h2', {}, id ? `Edit ${m.name}` : 'New flow'),
      editorForm(
        id ? 'Edit flow' : 'New flow',
        fields,
        () => m,
        id ? `/admin/flows/${encodeURIComponent(id)}` : '/admin/flows',
        (res) => ({ text: `${res.flow.name} is saved.` }),
        (saved) => {
          close();
          if (!saved) draw();
        },
      ),
    ];
  }

  async function drawIntegrations() {
    if (state.integrationEdit) return drawIntegrationEditor();
    if (state.sourceEdit) return drawSourceEditor();
    const { integrations, sources } = await api('GET', '/admin/integrations');
    const out = [
      el('h2', {}, 'Integrations'),
      el(
        'div',
        { className: 'actions' },
        el(
          'button',
          { type: 'button', className: 'primary', onclick: () => openIntegrationEditor() },
          'Add integration',
        ),
      ),
    ];
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
            el(
              'div',
              { className: 'actions' },
              el('button', { type: 'button', onclick: () => openIntegrationEditor(i.name) }, 'Edit'),
              el(
                'button',
                {
                  type: 'button',
                  onclick: (e) =>
                    act(
                      e.currentTarget,
                      () => api('POST', `/admin/integrations/${encodeURIComponent(i.name)}/discover`, {}),
                      (res) => `${i.name}: ${res.resources} resources found.`,
                    ),
                },
                'Find resources',
              ),
            ),
          ),
        ),
      ),
    );
    out.push(...drawContextSources(sources));
    return out;
  }

  /** Identity-provider sources: how their syncs went, and Sync now (the page waits for it). */
  function drawContextSources(sources) {
    const stateOf = (s) =>
      !s.lastSuccessAt
        ? ['muted', '● not synced yet: its groups give nothing until it is']
        : s.stale
          ? ['health-bad', '● stale: its groups no longer approve automatically']
          : s.lastError
            ? ['health-bad', '● the last sync failed; the groups of the one before are kept']
            : ['health-ok', '● in sync'];
    return [
      el('h2', {}, 'Context sources'),
      el(
        'div',
        { className: 'actions' },
        el('button', { type: 'button', onclick: () => openSourceEditor() }, 'Add context source'),
      ),
      sources.length === 0
        ? el(
            'p',
            { className: 'muted' },
            'None yet: add an identity provider or an on-call tool whose groups flows can name.',
          )
        : null,
      el(
        'ul',
        { className: 'items', 'aria-label': 'Context sources' },
        sources.map((s) => {
          const [cls, label] = stateOf(s);
          return el(
            'li',
            { className: 'item' },
            el(
              'div',
              { className: 'title' },
              `${s.name} · ${s.type} · ${s.groups} groups, ${s.memberships} memberships${s.origin === 'config' ? ' · from the flows file' : ''}`,
            ),
            el(
              'div',
              { className: cls },
              `${label} · last sync ${when(s.lastSuccessAt) || 'never'} · ${s.requests} requests, ${s.rateLimited} rate-limited`,
            ),
            s.lastError ? el('div', { className: 'error' }, `${when(s.lastErrorAt)}: ${s.lastError}`) : null,
            ...s.warnings.slice(0, 3).map((w) => el('div', { className: 'muted' }, w)),
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
                      () => api('POST', `/admin/context-sources/${encodeURIComponent(s.name)}/sync`, {}),
                      (res) =>
                        res.outcome.ok
                          ? `${s.name} synced: ${res.outcome.groups} groups, ${res.outcome.memberships} memberships.`
                          : `${s.name} did not sync: ${res.outcome.error}. Its previous groups are kept.`,
                    ),
                },
                'Sync now',
              ),
              el('button', { type: 'button', onclick: () => openSourceEditor(s.name) }, 'Edit'),
              confirmButton(
                'Delete',
                `Delete ${s.name} and its synced groups? Flows naming its groups match nobody from then on.${s.origin === 'config' ? ' The flows file adds it again at the next start.' : ''}`,
                (button) =>
                  act(
                    button,
                    () => api('POST', `/admin/context-sources/${encodeURIComponent(s.name)}/delete`, {}),
                    `${s.name} is deleted.`,
                  ),
              ),
            ),
          );
        }),
      ),
    ];
  }

  async function openSourceEditor(name) {
    status('');
    try {
      const data = await api(
        'GET',
        name ? `/admin/context-sources/${encodeURIComponent(name)}/edit` : '/admin/context-sources/new',
      );
      const src = data.source;
      const first = data.types[0];
      state.sourceEdit = {
        name,
        data,
        m: {
          name: src ? src.name : '',
          type: src ? src.type : first ? first.type : '',
          description: src ? src.description : '',
          config: src ? src.config : first ? yamlOf(first.example) : '',
          secrets: {},
          syncEveryMinutes: src ? String(src.syncEveryMinutes) : '',
          maxAgeMinutes: src ? String(src.maxAgeMinutes) : '',
        },
      };
      await draw();
    } catch (err) {
      status(err.message, true);
    }
  }

  /** A flat example config as YAML lines (lists as flow sequences), for the editor's starting point. */
  function yamlOf(example) {
    return Object.entries(example || {})
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`)
      .join('\n');
  }

  /** A context source's editor: as Slack's modal, with one write-only field per secret the type needs. */
  function drawSourceEditor() {
    const { name, data, m } = state.sourceEdit;
    const type = data.types.find((t) => t.type === m.type) || { secrets: [], example: {} };
    const stored = data.source && data.source.type === m.type ? data.source.storedSecretNames : [];
    const fields = [
      data.source && data.source.origin === 'config'
        ? el(
            'p',
            { className: 'muted' },
            'Declared in the flows file: a change here holds until Latch restarts, when the file’s version is applied again. Change the file too.',
          )
        : null,
      name
        ? el('p', {}, el('strong', {}, 'Name: '), name)
        : field(
            'Name',
            textInput(m.name, (v) => (m.name = v), { maxlength: 40 }),
            'name',
            'Prefixes its groups in flows (okta → okta:Engineering): lower-case letters, digits, - and _.',
          ),
      field(
        'Type',
        select(
          data.types.map((t) => [t.type, t.type]),
          m.type,
          (v) => {
            if (!name && m.config === yamlOf(type.example))
              m.config = yamlOf((data.types.find((t) => t.type === v) || {}).example);
            m.type = v;
            draw();
          },
        ),
        'type',
      ),
      field(
        'Description (optional)',
        textInput(m.description, (v) => (m.description = v), { maxlength: 500 }),
        'description',
      ),
      field(
        'Configuration (YAML)',
        textArea(m.config, (v) => (m.config = v), { rows: 5 }),
        'config',
        `key: value lines; ${m.type} needs ${Object.keys(type.example).join(', ') || 'nothing more'}. Secrets do not go here.`,
      ),
      type.secrets.map((key) =>
        field(
          `${key} (secret)`,
          textInput(m.secrets[key], (v) => (m.secrets[key] = v), {
            type: 'password',
            autocomplete: 'new-password',
          }),
          `secrets.${key}`,
          stored.includes(key)
            ? 'Stored, and never shown. Leave empty to keep it; type a new one to replace it.'
            : 'Encrypted, and never shown again.',
        ),
      ),
      errorSlot('secrets'),
      field(
        'Sync every (minutes, optional)',
        textInput(m.syncEveryMinutes, (v) => (m.syncEveryMinutes = v), {
          inputmode: 'numeric',
          placeholder: '15',
        }),
        'syncEveryMinutes',
      ),
      field(
        'Stale after (minutes, optional)',
        textInput(m.maxAgeMinutes, (v) => (m.maxAgeMinutes = v), {
          inputmode: 'numeric',
          placeholder: '1440',
        }),
        'maxAgeMinutes',
        'A source not synced for this long no longer approves automatically.',
      ),
    ];
    const body = () => ({
      name: m.name,
      type: m.type,
      description: m.description,
      config: m.config,
      secrets: Object.fromEntries(type.secrets.map((k) => [k, m.secrets[k] || ''])),
      syncEveryMinutes: m.syncEveryMinutes,
      maxAgeMinutes: m.maxAgeMinutes,
    });
    return [
      el('h2', {}, name ? `Edit ${name}` : 'Add context source'),
      editorForm(
        name ? 'Edit context source' : 'Add context source',
        fields,
        body,
        name ? `/admin/context-sources/${encodeURIComponent(name)}` : '/admin/context-sources',
        (res) => ({
          text: `${res.saved} is saved; its first sync has started (Sync now shows how it went).`,
        }),
        (saved) => {
          state.sourceEdit = undefined;
          if (!saved) draw();
        },
      ),
    ];
  }

  async function openIntegrationEditor(name) {
    status('');
    try {
      const data = await api(
        'GET',
        name ? `/admin/integrations/${encodeURIComponent(name)}/edit` : '/admin/integrations/new',
      );
      const i = data.integration;
      state.integrationEdit = {
        name,
        data,
        stored: i ? i.storedSecretNames : [],
        m: {
          name: i ? i.name : '',
          type: i ? i.type : data.types[0],
          description: i ? i.description : '',
          values: i ? Object.assign({}, i.values) : {},
          other: i ? i.other : '',
          secrets: {},
          secretLines: '',
        },
      };
      await draw();
    } catch (err) {
      status(err.message, true);
    }
  }

  function drawIntegrationEditor() {
    const { name, data, stored, m } = state.integrationEdit;
    const form = data.forms[m.type] || { fields: [], secrets: [] };
    const described = form.fields.length > 0;
    const settingFields = form.fields.map((f) => {
      const key = `config.${f.key}`;
      const value = m.values[f.key];
      const set = (v) => (m.values[f.key] = v);
      const hint = [f.hint, f.default !== undefined && f.kind !== 'boolean' ? `Default: ${f.default}.` : '']
        .filter(Boolean)
        .join(' ');
      if (f.kind === 'boolean')
        return el('div', { className: 'field' }, checkbox(f.label, value === true, set), errorSlot(key));
      const label = f.required ? f.label : `${f.label} (optional)`;
      if (f.kind === 'select')
        return field(
          label,
          select(
            [['', `Default${f.default ? ` (${f.default})` : ''}`]].concat(
              (f.options || []).map((o) => [o, o]),
            ),
            value || '',
            set,
          ),
          key,
          f.hint,
        );
      if (f.kind === 'yaml') return field(label, textArea(value, set, { rows: 2 }), key, hint);
      return field(
        label,
        textInput(value, set, {
          inputmode: f.kind === 'number' ? 'numeric' : undefined,
          placeholder: f.default !== undefined ? String(f.default) : undefined,
        }),
        key,
        hint,
      );
    });
    const secretFields = form.secrets.map((s) =>
      field(
        `${s.label} (secret)`,
        textInput(m.secrets[s.key], (v) => (m.secrets[s.key] = v), {
          type: 'password',
          autocomplete: 'new-password',
        }),
        `secrets.${s.key}`,
        stored.includes(s.key)
          ? 'Stored, and never shown. Leave empty to keep it; type a new one to replace it.'
          : [s.hint, 'Encrypted, and never shown again.'].filter(Boolean).join(' '),
      ),
    );
    const fields = [
      name
        ? el('p', {}, el('strong', {}, 'Name: '), name)
        : field(
            'Name',
            textInput(m.name, (v) => (m.name = v), { maxlength: 60 }),
            'name',
            'How flows refer to it, e.g. postgres-prod.',
          ),
      field(
        'Type',
        select(
          data.types.map((t) => [t, t]),
          m.type,
          (v) => {
            m.type = v;
            draw();
          },
        ),
        'type',
      ),
      field(
        'Description (optional)',
        textInput(m.description, (v) => (m.description = v), { maxlength: 500 }),
        'description',
      ),
      settingFields,
      field(
        described ? 'Other settings (optional, YAML)' : 'Configuration (YAML)',
        textArea(m.other, (v) => (m.other = v), { rows: described ? 2 : 6 }),
        'config',
        described
          ? 'Settings without a field above, as key: value lines.'
          : 'key: value lines. Secrets do not go here.',
      ),
      secretFields,
      form.secrets.length
        ? errorSlot('secrets')
        : field(
            'Secrets (optional)',
            textArea(m.secretLines, (v) => (m.secretLines = v), { rows: 2, autocomplete: 'off' }),
            'secrets',
            stored.length
              ? `Stored: ${stored.join(', ')}; never shown. Leave empty to keep them, or give key=value lines to replace.`
              : 'key=value lines. Encrypted, and never shown again.',
          ),
    ];
    const body = () => {
      const secrets = Object.assign({}, m.secrets);
      for (const line of m.secretLines.split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) secrets[line.slice(0, eq).trim()] = line.slice(eq + 1);
      }
      return {
        name: m.name,
        type: m.type,
        description: m.description,
        values: m.values,
        other: m.other,
        secrets,
      };
    };
    return [
      el('h2', {}, name ? `Edit ${name}` : 'Add integration'),
      editorForm(
        name ? 'Edit integration' : 'Add integration',
        fields,
        body,
        name ? `/admin/integrations/${encodeURIComponent(name)}` : '/admin/integrations',
        (res) =>
          res.discoveryError
            ? { text: res.discoveryError, isError: true }
            : { text: `${res.saved} is saved: ${res.resources} resources found.` },
        (saved) => {
          state.integrationEdit = undefined;
          if (!saved) draw();
        },
      ),
    ];
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
    const { settings: s, envAdmins, fallbackDurations } = await api('GET', '/admin/settings');
    const m = {
      admins: s.admins.join(', '),
      fallbackEnabled: s.fallback.enabled,
      fallbackApprovers: s.fallback.approvers
        .flatMap((a) => (a.type === 'user' ? [a.id] : a.type === 'group' ? [`@${a.id}`] : []))
        .join(', '),
      fallbackMaxMinutes: s.fallback.maxMinutes,
      selfExtension: s.selfExtension,
      expiryWarningMinutes: String(s.expiryWarningMinutes),
      auditChannel: s.auditChannel || '',
    };
    const durations = [...new Set(fallbackDurations.concat(s.fallback.maxMinutes))].sort((a, b) => a - b);
    const fields = [
      field(
        'Admins',
        textArea(m.admins, (v) => (m.admins = v), { maxlength: 20000 }),
        'admins',
        `Emails, Entra object ids or @groups, separated by commas. ${
          envAdmins.length ? `Also admins, from LATCH_ADMINS: ${envAdmins.join(', ')}.` : 'Keep at least one.'
        }`,
      ),
      el(
        'div',
        { className: 'field' },
        checkbox(
          'Fallback flow on: anything no flow covers can be asked for, admins approve',
          m.fallbackEnabled,
          (on) => (m.fallbackEnabled = on),
        ),
        errorSlot('fallbackEnabled'),
      ),
      field(
        'Fallback approvers (optional)',
        textArea(m.fallbackApprovers, (v) => (m.fallbackApprovers = v), { maxlength: 20000 }),
        'fallbackApprovers',
        'Emails or @groups. Empty: the admins approve.',
      ),
      field(
        'Fallback flow: longest duration',
        select(
          durations.map((d) => [String(d), minutes(d)]),
          m.fallbackMaxMinutes,
          (v) => (m.fallbackMaxMinutes = Number(v)),
        ),
        'fallbackMaxMinutes',
      ),
      field(
        'Self-extension',
        select(
          [
            ['flow', "Follow each flow's rule"],
            ['approval', 'Always needs an approver'],
            ['never', 'Never'],
          ],
          m.selfExtension,
          (v) => (m.selfExtension = v),
        ),
        'selfExtension',
      ),
      field(
        'Warn this many minutes before expiry (0 = off)',
        textInput(m.expiryWarningMinutes, (v) => (m.expiryWarningMinutes = v), {
          inputmode: 'numeric',
          maxlength: 5,
        }),
        'expiryWarningMinutes',
      ),
      field(
        'Audit channel (optional)',
        textInput(m.auditChannel, (v) => (m.auditChannel = v), { maxlength: 40 }),
        'auditChannel',
        'A Slack channel id (like C0123ABCDE) that gets a line for every request event; invite Latch there. Empty: none.',
      ),
    ];
    return [
      el('h2', {}, 'Settings'),
      editorForm(
        'Settings',
        fields,
        () => m,
        '/admin/settings',
        () => ({ text: 'Settings are saved.' }),
        (saved) => {
          if (!saved) draw();
        },
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

  /** Break-glass reviews still open (docs/ARCHITECTURE.md, "Break-glass"), each closed with a note. */
  async function drawReviews() {
    const { reviews } = await api('GET', '/admin/reviews');
    const out = [el('h2', {}, 'Break-glass reviews')];
    if (reviews.length === 0) {
      out.push(
        el(
          'p',
          { className: 'muted' },
          'No open reviews: nobody has broken the glass since the last one was closed.',
        ),
      );
      return out;
    }
    out.push(
      el(
        'p',
        { className: 'muted' },
        'Each one stays open until an admin other than the requester closes it with a note.',
      ),
    );
    for (const r of reviews) {
      const noteId = `review-note-${r.id}`;
      const note = el('textarea', { id: noteId, maxlength: 1000, rows: 2 });
      const error = el('p', { className: 'error' });
      const who = r.requester.displayName || r.requester.email || r.requester.id;
      out.push(
        el(
          'div',
          { className: 'item review', 'data-review': r.id },
          el(
            'p',
            {},
            el('strong', {}, r.id),
            ` · ${who} broke the glass under ${r.flowName} · ${when(r.openedAt)}`,
          ),
          el('p', {}, r.targets.join(', ')),
          el('p', { className: 'muted' }, `Reason: ${r.reason}`),
          el('label', { for: noteId }, 'Note'),
          note,
          error,
          el(
            'div',
            { className: 'actions' },
            el(
              'button',
              {
                type: 'button',
                onclick: async (e) => {
                  const button = e.currentTarget;
                  button.disabled = true;
                  error.textContent = '';
                  try {
                    await api('POST', `/admin/reviews/${encodeURIComponent(r.id)}/close`, {
                      note: note.value,
                    });
                    status(`The review of ${r.id} is closed.`);
                    await refresh();
                  } catch (err) {
                    if (err.fields && err.fields.note) error.textContent = err.fields.note;
                    else status(err.message, true);
                    button.disabled = false;
                  }
                },
              },
              'Close review',
            ),
          ),
        ),
      );
    }
    return out;
  }

  // ---- standing access and reconciliation (docs/ARCHITECTURE.md, "Reconciliation") ----

  const STANDING_PAGE = 20;

  function convertible(item) {
    return Boolean(item.resourceId && item.permission);
  }

  /** The new flow's name offered: what it covers, and whose it was when that name is taken. */
  function suggestedFlowName(item, flows) {
    const plain = `${item.resourceName} ${item.permission}`.slice(0, 80);
    const taken = flows.some((f) => f.name.toLowerCase() === plain.toLowerCase());
    return taken ? `${item.resourceName} ${item.permission} (${item.account})`.slice(0, 80) : plain;
  }

  function reconcileLine(row) {
    const s = row.status;
    if (!s) return 'Not reconciled yet.';
    if (!s.ok) return `Failed ${when(s.at)}: ${s.error || 'unknown error'}`;
    const n = (k) => s.counts[k] || 0;
    return `Reconciled ${when(s.at)}: ${n('listed')} listed, ${n('matched')} held through Latch, ${n('standing')} standing, ${n('missing')} missing (${n('reapplied')} re-applied), ${n('revoked')} revoked${n('revokeFailed') ? `, ${n('revokeFailed')} could not be revoked` : ''}.`;
  }

  async function drawStanding() {
    if (state.standingConvert) return drawStandingConvert();
    const [listed, reconcile] = await Promise.all([
      api('GET', `/admin/standing?offset=${state.standingOffset}&limit=${STANDING_PAGE}`),
      api('GET', '/admin/reconcile'),
    ]);
    // The last entry of a page converted: show the page before.
    if (listed.items.length === 0 && listed.total > 0 && state.standingOffset > 0) {
      state.standingOffset = Math.max(0, state.standingOffset - STANDING_PAGE);
      return drawStanding();
    }
    const out = [
      el('h2', {}, `Standing access (${listed.total})`),
      el(
        'p',
        { className: 'muted' },
        'Access found on the systems that no Latch grant holds. Convert… removes it and makes it requestable under a flow.',
      ),
    ];
    if (listed.total === 0)
      out.push(
        el(
          'p',
          { className: 'muted' },
          'None found: everything on the systems is held through Latch (as of the last run).',
        ),
      );
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Standing access' },
        listed.items.map((item) =>
          el(
            'li',
            { className: 'item', 'data-standing': item.key },
            el('div', { className: 'title' }, `${item.account} · ${item.email || 'owner unknown'}`),
            el(
              'div',
              { className: 'muted' },
              `${convertible(item) ? `${item.permission} on ${item.resourceName}` : 'No resource Latch manages: remove it on the system'} · ${item.integration}${item.madeByLatch ? ' · made by Latch, left over' : ''} · first seen ${when(item.firstSeenAt)}`,
            ),
            convertible(item)
              ? el(
                  'div',
                  { className: 'actions' },
                  el('button', { type: 'button', onclick: () => openStandingConvert(item) }, 'Convert…'),
                )
              : undefined,
          ),
        ),
      ),
    );
    if (listed.total > STANDING_PAGE) {
      const page = Math.floor(state.standingOffset / STANDING_PAGE);
      const pages = Math.ceil(listed.total / STANDING_PAGE);
      const go = (offset) => {
        state.standingOffset = offset;
        draw();
      };
      out.push(
        el(
          'div',
          { className: 'actions' },
          page > 0
            ? el(
                'button',
                { type: 'button', onclick: () => go(state.standingOffset - STANDING_PAGE) },
                '‹ Previous',
              )
            : undefined,
          page < pages - 1
            ? el(
                'button',
                { type: 'button', onclick: () => go(state.standingOffset + STANDING_PAGE) },
                'Next ›',
              )
            : undefined,
          el('span', { className: 'muted' }, `Page ${page + 1} of ${pages} · ${listed.total} in all`),
        ),
      );
    }
    out.push(
      el('h2', {}, 'Reconciliation'),
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
                () => api('POST', '/admin/reconcile', {}),
                'Every integration is reconciled.',
              ),
          },
          'Reconcile all now',
        ),
      ),
    );
    if (reconcile.integrations.length === 0)
      out.push(el('p', { className: 'muted' }, 'No integrations yet.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Reconciliation' },
        reconcile.integrations.map((row) =>
          el(
            'li',
            { className: 'item' },
            el('div', { className: 'title' }, row.name),
            el('div', { className: row.status && !row.status.ok ? 'error' : 'muted' }, reconcileLine(row)),
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
                      () => api('POST', '/admin/reconcile', { integration: row.name }),
                      `${row.name} is reconciled.`,
                    ),
                },
                'Reconcile now',
              ),
            ),
          ),
        ),
      ),
    );
    return out;
  }

  async function openStandingConvert(item) {
    status('');
    try {
      const { flows } = await api('GET', '/admin/flows');
      state.standingConvert = {
        item,
        flows,
        m: { mode: 'new', name: suggestedFlowName(item, flows), flowId: '', person: item.email || '' },
      };
      await draw();
    } catch (err) {
      status(err.message, true);
    }
  }

  /** The convert form: what happens is said before the one button that does it. */
  function drawStandingConvert() {
    const { item, flows, m } = state.standingConvert;
    const modes = [['new', 'A new flow (you approve, at most 8 hours; edit it later)']].concat(
      flows.length ? [['extend', 'An existing flow (its targets and people grow to cover this)']] : [],
    );
    const fields = [
      el(
        'p',
        {},
        `${item.account} · ${item.email || 'owner unknown'} · ${item.permission} on ${item.resourceName} · ${item.integration}`,
      ),
      field(
        'Make it requestable under',
        select(modes, m.mode, (v) => {
          m.mode = v;
          draw();
        }),
        'flow',
      ),
      m.mode === 'new'
        ? field(
            'Name of the new flow',
            textInput(m.name, (v) => (m.name = v), { maxlength: 80 }),
            'flow.name',
          )
        : field(
            'Existing flow',
            select(
              [['', 'Choose a flow']].concat(flows.map((f) => [f.id, f.name])),
              m.flowId,
              (v) => (m.flowId = v),
            ),
            'flow.flowId',
          ),
      field(
        "The person's email",
        textInput(m.person, (v) => (m.person = v), { type: 'email', maxlength: 254 }),
        'person',
        item.email
          ? 'Who may ask for it from now on: the email the system gave, unless you change it.'
          : 'The system does not say whose account this is: give the email of the person who may ask for it from now on.',
      ),
      el(
        'p',
        { className: 'warning' },
        `${item.account}'s access to ${item.resourceName} (${item.permission}) on ${item.integration} is removed now, when you convert. From then on the person asks for it in Latch, under the flow.`,
      ),
    ];
    const close = () => {
      state.standingConvert = undefined;
    };
    const form = editorForm(
      'Convert standing access',
      fields,
      () => ({
        integration: item.integration,
        key: item.key,
        person: m.person,
        flow: m.mode === 'new' ? { mode: 'new', name: m.name } : { mode: 'extend', flowId: m.flowId },
      }),
      '/admin/standing/convert',
      (res) => ({
        text: `${res.removed.account}'s access is removed; flow ${res.flow.name} now covers it.`,
      }),
      (saved) => {
        close();
        if (!saved) draw();
      },
    );
    const submit = form.querySelector('button[type="submit"]');
    submit.textContent = 'Remove access and convert';
    submit.className = 'danger';
    return [el('h2', {}, 'Convert standing access'), form];
  }

  // ---- lifecycle webhooks (docs/ARCHITECTURE.md, "Lifecycle webhooks") ----

  /** One line per delivery: when, what, for which request, how it went. */
  function deliveryLine(d) {
    const outcome =
      d.state === 'delivered'
        ? `✓ ${d.lastStatus || ''}`
        : d.state === 'failed'
          ? `✗ ${d.lastError || 'failed'}`
          : d.attempts === 0
            ? '… queued'
            : `… ${d.lastError || ''}, next try ${when(d.nextAttemptAt)}`;
    const tries = d.attempts === 1 ? '1 attempt' : `${d.attempts} attempts`;
    return `${when(d.createdAt)} · ${d.event} · ${d.requestId} · ${outcome} · ${tries}`;
  }

  function deliveryList(deliveries, label) {
    if (deliveries.length === 0) return el('p', { className: 'muted' }, 'Nothing sent yet.');
    return el(
      'ul',
      { className: 'deliveries', 'aria-label': label },
      deliveries.map((d) =>
        el(
          'li',
          { className: d.state === 'failed' ? 'error' : d.state === 'pending' ? 'muted' : '' },
          deliveryLine(d),
        ),
      ),
    );
  }

  /** A secret Latch generated: shown here once, until Done. */
  function secretNotice() {
    const shown = state.webhookSecret;
    if (!shown) return null;
    return el(
      'div',
      { className: 'item secret', role: 'alert' },
      el(
        'p',
        {},
        el('strong', {}, shown.name),
        ': give the receiver this signing secret now. Latch never shows it again.',
      ),
      el('p', {}, el('code', { 'data-secret': '' }, shown.secret)),
      el(
        'div',
        { className: 'actions' },
        el(
          'button',
          {
            type: 'button',
            onclick: () => {
              state.webhookSecret = undefined;
              draw();
            },
          },
          'Done',
        ),
      ),
    );
  }

  async function drawWebhooks() {
    if (state.webhookEdit) return drawWebhookEditor();
    if (state.webhookDeliveries) return drawWebhookDeliveries();
    const { webhooks, events } = await api('GET', '/admin/webhooks');
    const out = [
      el('h2', {}, 'Webhooks'),
      secretNotice(),
      el(
        'p',
        { className: 'muted' },
        'Latch POSTs each request and access event, signed (Latch-Signature), to the URLs here, and retries what fails.',
      ),
      el(
        'div',
        { className: 'actions' },
        el(
          'button',
          { type: 'button', className: 'primary', onclick: () => openWebhookEditor(undefined, events) },
          'Add webhook',
        ),
      ),
    ];
    if (webhooks.length === 0) out.push(el('p', { className: 'muted' }, 'No webhooks yet.'));
    out.push(
      el(
        'ul',
        { className: 'items', 'aria-label': 'Webhooks' },
        webhooks.map((w) =>
          el(
            'li',
            { className: 'item' },
            el('div', { className: 'title' }, w.enabled ? w.name : `${w.name} (disabled)`),
            el('div', {}, w.url),
            el(
              'div',
              { className: 'muted' },
              `${w.events.length ? w.events.join(', ') : 'every event'}${w.pending ? ` · ${w.pending} waiting to be sent` : ''} · secret set ${when(w.secretSetAt)}`,
            ),
            deliveryList(w.recent, `Last deliveries to ${w.name}`),
            el(
              'div',
              { className: 'actions' },
              el('button', { type: 'button', onclick: () => openWebhookEditor(w, events) }, 'Edit'),
              el(
                'button',
                {
                  type: 'button',
                  onclick: async () => {
                    status('');
                    try {
                      const data = await api('GET', `/admin/webhooks/${encodeURIComponent(w.id)}`);
                      state.webhookDeliveries = { id: w.id, webhook: data.webhook };
                      await draw();
                    } catch (err) {
                      status(err.message, true);
                    }
                  },
                },
                'Deliveries',
              ),
              confirmButton(
                'Rotate secret',
                `Latch signs with a new secret at once (retries too); ${w.name} must be given it.`,
                (button) =>
                  act(
                    button,
                    () => api('POST', `/admin/webhooks/${encodeURIComponent(w.id)}/rotate`, {}),
                    (res) => {
                      state.webhookSecret = { name: res.saved, secret: res.secret };
                      return `${res.saved} has a new signing secret.`;
                    },
                  ),
              ),
              confirmButton(
                'Delete',
                `Delete ${w.name}? What is still waiting to be sent to it is dropped.`,
                (button) =>
                  act(
                    button,
                    () => api('POST', `/admin/webhooks/${encodeURIComponent(w.id)}/delete`, {}),
                    `${w.name} is deleted.`,
                  ),
              ),
            ),
          ),
        ),
      ),
    );
    return out;
  }

  function drawWebhookDeliveries() {
    const w = state.webhookDeliveries.webhook;
    return [
      el('h2', {}, `Deliveries to ${w.name}`),
      el('p', { className: 'muted' }, `${w.url} · the last ${w.recent.length}, newest first.`),
      deliveryList(w.recent, `Deliveries to ${w.name}`),
      el(
        'div',
        { className: 'actions' },
        el(
          'button',
          {
            type: 'button',
            onclick: () => {
              state.webhookDeliveries = undefined;
              draw();
            },
          },
          'Back',
        ),
      ),
    ];
  }

  function openWebhookEditor(w, events) {
    status('');
    state.webhookSecret = undefined;
    state.webhookEdit = {
      id: w ? w.id : undefined,
      events,
      m: {
        name: w ? w.name : '',
        url: w ? w.url : '',
        events: w ? w.events.slice() : [],
        secret: '',
        enabled: w ? w.enabled : true,
      },
    };
    draw();
  }

  /** As Slack's modal: name and URL required; events (none: every one), secret and enabled optional. */
  function drawWebhookEditor() {
    const { id, events, m } = state.webhookEdit;
    const fields = [
      field(
        'Name',
        textInput(m.name, (v) => (m.name = v), { maxlength: 80 }),
        'name',
      ),
      field(
        'URL',
        textInput(m.url, (v) => (m.url = v), {
          maxlength: 2000,
          placeholder: 'https://hooks.example.com/latch',
        }),
        'url',
        'Latch POSTs JSON here. https, or plain http to this machine only (localhost).',
      ),
      el(
        'fieldset',
        { className: 'field' },
        el('legend', {}, 'Events (none ticked: every event)'),
        events.map((e) =>
          checkbox(e, m.events.includes(e), (on) => {
            m.events = on ? m.events.concat([e]) : m.events.filter((x) => x !== e);
          }),
        ),
        errorSlot('events'),
      ),
      field(
        'Signing secret (optional)',
        textInput(m.secret, (v) => (m.secret = v), {
          type: 'password',
          autocomplete: 'new-password',
          maxlength: 200,
        }),
        'secret',
        id
          ? 'Stored, and never shown. Leave empty to keep it; type one to replace it (or use Rotate secret).'
          : 'Leave empty and Latch generates one, shown to you once. At least 16 characters if you give your own.',
      ),
      checkbox('Enabled', m.enabled, (on) => (m.enabled = on)),
      errorSlot('enabled'),
    ];
    const body = () => ({ name: m.name, url: m.url, events: m.events, secret: m.secret, enabled: m.enabled });
    return [
      el('h2', {}, id ? `Edit ${m.name}` : 'Add webhook'),
      editorForm(
        id ? 'Edit webhook' : 'Add webhook',
        fields,
        body,
        id ? `/admin/webhooks/${encodeURIComponent(id)}` : '/admin/webhooks',
        (res) => {
          if (res.secret) state.webhookSecret = { name: res.saved, secret: res.secret };
          return { text: `${res.saved} is saved.` };
        },
        (saved) => {
          state.webhookEdit = undefined;
          if (!saved) draw();
        },
      ),
    ];
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
