/* okrate sandbox page: polls /api/state and draws the chats and the Okdesk issues.
 *
 * Everything is built with DOM nodes and textContent; the only HTML inserted is the "html"
 * field of messages and comments, which the server builds escaped (sandbox/page.py). */
"use strict";

(() => {
  const POLL_MS = 1000;
  const FAST_POLL_MS = 200; // for a few seconds after the person did something
  const FAST_FOR_MS = 5000;
  const $ = (id) => document.getElementById(id);

  const ui = {
    data: null,
    etag: null,
    chatId: null,
    issueId: null,
    mode: "both",
    drawn: { chats: "", chat: "", issues: "", issue: "", statuses: "", logs: "" },
    seenAnswers: null, // ids of callback answers already shown as a toast
    pollTimer: null,
    fastUntil: 0,
  };

  // -- helpers -------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function timeOf(unixSeconds) {
    if (!unixSeconds) return "";
    const d = new Date(unixSeconds * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function okdeskTime(iso) {
    if (!iso) return "—";
    return iso.replace("T", " ").slice(0, 16);
  }

  function initials(title) {
    return title.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]).join("").toUpperCase();
  }

  async function api(path, body) {
    const init = { credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    if (resp.status === 401) {
      location.reload(); // shows the login form
      throw new Error("login required");
    }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
    return data;
  }

  function showError(id, message) {
    const node = $(id);
    node.textContent = message;
    node.hidden = !message;
  }

  // -- polling -------------------------------------------------------------------------------

  async function poll() {
    clearTimeout(ui.pollTimer);
    try {
      const headers = ui.etag ? { "If-None-Match": ui.etag } : {};
      const resp = await fetch("/api/state", { credentials: "same-origin", headers });
      if (resp.status === 401) {
        location.reload();
        return;
      }
      $("conn").className = "conn ok";
      if (resp.status === 200) {
        ui.etag = resp.headers.get("ETag");
        ui.data = await resp.json();
        render();
      }
    } catch (e) {
      $("conn").className = "conn down";
    }
    ui.pollTimer = setTimeout(poll, Date.now() < ui.fastUntil ? FAST_POLL_MS : POLL_MS);
  }

  function refreshSoon() {
    // the answer to an action (the bot's reply, the webhook's effects) comes soon after it
    ui.fastUntil = Date.now() + FAST_FOR_MS;
    clearTimeout(ui.pollTimer);
    ui.pollTimer = setTimeout(poll, 50);
  }

  // -- routing -------------------------------------------------------------------------------

  function readLocation() {
    const path = location.pathname.replace(/\/+$/, "");
    const m = path.match(/^\/okdesk(?:\/issues\/(\d+))?$/);
    ui.mode = m ? "okdesk" : "both";
    if (m && m[1]) ui.issueId = Number(m[1]);
    document.body.dataset.mode = ui.mode;
    for (const a of document.querySelectorAll("[data-nav]")) {
      a.classList.toggle("active", a.dataset.nav === ui.mode);
    }
  }

  function selectIssue(id) {
    ui.issueId = id;
    if (ui.mode === "okdesk") history.pushState(null, "", `/okdesk/issues/${id}`);
    renderOkdesk(true);
  }

  function selectChat(id) {
    ui.chatId = id;
    showError("chat-error", "");
    renderTelegram(true);
  }

  // -- drawing -------------------------------------------------------------------------------

  function render() {
    const data = ui.data;
    if (!data) return;
    $("logout").hidden = !data.protected;
    renderTelegram(false);
    renderOkdesk(false);
  }

  function currentChat() {
    const chats = ui.data.telegram.chats;
    return chats.find((c) => c.id === ui.chatId) || null;
  }

  function renderTelegram(force) {
    const tg = ui.data.telegram;
    $("bot-name").textContent = `@${tg.bot.username}`;
    if (ui.chatId === null || !tg.chats.some((c) => c.id === ui.chatId)) {
      const first = tg.chats.find((c) => c.messages.length) || tg.chats[0];
      ui.chatId = first ? first.id : null;
    }
    if (ui.seenAnswers === null) {
      ui.seenAnswers = new Set(tg.chats.flatMap((c) => c.callback_answers.map((a) => a.id)));
    }
    const listKey = JSON.stringify([ui.chatId, tg.chats.map((c) => [c.id, c.title, c.blocked, c.messages.length && c.messages[c.messages.length - 1]])]);
    if (force || listKey !== ui.drawn.chats) {
      ui.drawn.chats = listKey;
      drawChatList(tg.chats);
    }
    const chat = currentChat();
    const chatKey = JSON.stringify([chat, tg.commands]);
    if (force || chatKey !== ui.drawn.chat) {
      ui.drawn.chat = chatKey;
      drawChat(chat, tg.commands);
    }
    for (const c of tg.chats) {
      for (const a of c.callback_answers) {
        if (ui.seenAnswers.has(a.id)) continue;
        ui.seenAnswers.add(a.id);
        if (c.id === ui.chatId) toast(a.text, a.show_alert);
      }
    }
  }

  function drawChatList(chats) {
    const list = $("chat-list");
    list.replaceChildren(
      ...chats.map((c) => {
        const last = c.messages[c.messages.length - 1];
        const preview = last ? (last.contact ? "📱 Contact" : last.text || "") : "no messages yet";
        return el(
          "li",
          { class: c.id === ui.chatId ? "chat-item selected" : "chat-item", "data-chat-id": String(c.id) },
          el("div", { class: "avatar", text: initials(c.title) }),
          el(
            "div",
            { class: "chat-item-body" },
            el("div", { class: "chat-item-title" }, c.title, c.blocked ? el("span", { class: "badge red", text: "blocked" }) : null),
            el("div", { class: "chat-item-preview", text: (last && last.sender === "user" ? "You: " : "") + preview }),
          ),
          el("div", { class: "chat-item-time", text: last ? timeOf(last.date) : "" }),
        );
      }),
    );
  }

  function drawChat(chat, commands) {
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const canAct = !!(chat && chat.can_act);
    $("composer-text").disabled = !canAct;
    $("composer-send").disabled = !canAct;
    if (!chat) {
      $("chat-title").textContent = "No chat";
      box.replaceChildren();
      return;
    }
    $("chat-avatar").textContent = initials(chat.title);
    $("chat-title").textContent = chat.title;
    const sub = [`id ${chat.id}`];
    if (chat.username) sub.push(`@${chat.username}`);
    if (chat.phone_number) sub.push(`☎ ${chat.phone_number}`);
    if (chat.blocked) sub.push("has blocked the bot");
    if (!canAct) sub.push("read only");
    $("chat-sub").textContent = sub.join(" · ");
    $("composer-text").placeholder = chat.input_placeholder || "Message or /command";

    if (!chat.messages.length) {
      box.replaceChildren(el("p", { class: "empty", text: "No messages yet. The bot writes here when an issue of this user's contact is resolved; or type /start." }));
    } else {
      box.replaceChildren(...chat.messages.map((m) => drawMessage(m, canAct)));
    }
    if (atBottom || ui.drawn.scrolledChat !== chat.id) box.scrollTop = box.scrollHeight;
    ui.drawn.scrolledChat = chat.id;

    const kb = $("reply-keyboard");
    kb.hidden = !(canAct && chat.reply_keyboard.length);
    kb.replaceChildren(
      ...chat.reply_keyboard.map((row) =>
        el(
          "div",
          { class: "kb-row" },
          ...row.map((b) =>
            el("button", {
              type: "button",
              class: b.request_contact ? "kb-btn contact" : "kb-btn",
              text: (b.request_contact ? "📱 " : "") + b.text,
              "data-reply-text": b.text,
              "data-request-contact": b.request_contact ? "1" : null,
            }),
          ),
        ),
      ),
    );
    const cmds = $("commands");
    cmds.hidden = !(canAct && commands.length);
    cmds.replaceChildren(
      ...commands.map((c) => el("button", { type: "button", class: "cmd-btn", title: c.description, text: `/${c.command}`, "data-command": `/${c.command}` })),
    );
  }

  function drawMessage(m, canAct) {
    const bubble = el("div", { class: `msg msg-${m.sender}`, "data-message-id": String(m.message_id) });
    if (m.contact) {
      const name = [m.contact.first_name, m.contact.last_name].filter(Boolean).join(" ");
      bubble.append(el("div", { class: "contact-card" }, el("div", { class: "avatar small", text: "📱" }), el("div", {}, el("b", { text: name }), el("div", { text: m.contact.phone_number }))));
    }
    if (m.text !== null && m.text !== undefined) {
      const text = el("div", { class: "text" });
      text.innerHTML = m.html; // built escaped by the server: only Telegram's formatting is markup
      bubble.append(text);
    }
    const meta = el("div", { class: "meta" });
    if (m.edited) {
      meta.append(el("span", { class: "edited", text: "edited", title: m.previous_texts.length ? `before: ${m.previous_texts.join("\n→ ")}` : "" }));
    }
    meta.append(el("span", { text: timeOf(m.date) }));
    bubble.append(meta);
    const wrap = el("div", { class: `msg-wrap ${m.sender}` }, bubble);
    if (m.buttons.length) {
      wrap.append(
        el(
          "div",
          { class: "inline-keyboard" },
          ...m.buttons.map((row) =>
            el(
              "div",
              { class: "ikb-row" },
              ...row.map((b) => {
                if (b.url) {
                  return el("a", { class: "ikb-btn link", href: b.url, target: "_blank", rel: "noopener noreferrer", text: `${b.text} ↗` });
                }
                return el("button", {
                  type: "button",
                  class: b.pending ? "ikb-btn pending" : "ikb-btn",
                  text: b.text,
                  disabled: !canAct || b.callback_data === null,
                  "data-message-id": String(m.message_id),
                  "data-callback-data": b.callback_data,
                });
              }),
            ),
          ),
        ),
      );
    }
    return wrap;
  }

  function toast(text, alert) {
    const node = $("toast");
    node.textContent = text;
    node.className = alert ? "toast alert" : "toast";
    node.hidden = false;
    clearTimeout(node._timer);
    node._timer = setTimeout(() => (node.hidden = true), alert ? 6000 : 3000);
  }

  function currentIssue() {
    return ui.data.okdesk.issues.find((i) => i.id === ui.issueId) || null;
  }

  function renderOkdesk(force) {
    const ok = ui.data.okdesk;
    const targets = ok.webhook_targets.map((t) => t.url + (t.signed ? " (signed)" : ""));
    $("webhook-target").textContent = targets.length ? `webhooks → ${targets.join(", ")}` : "no webhook target registered";
    if (ui.issueId === null && ok.issues.length && ui.mode === "both") ui.issueId = ok.issues[0].id;

    const rowsKey = JSON.stringify([ui.issueId, ok.issues.map((i) => [i.id, i.title, i.status, i.contact, i.assignee, i.rate, i.comments.length])]);
    if (force || rowsKey !== ui.drawn.issues) {
      ui.drawn.issues = rowsKey;
      $("issue-rows").replaceChildren(
        ...ok.issues.map((i) =>
          el(
            "tr",
            { class: i.id === ui.issueId ? "selected" : "", "data-issue-id": String(i.id) },
            el("td", { text: String(i.id) }),
            el("td", { class: "title", text: i.title }),
            el("td", {}, statusBadge(i.status)),
            el("td", { text: i.contact ? i.contact.name : "—" }),
            el("td", { text: i.assignee ? i.assignee.name : "—" }),
            el("td", { text: i.rate ? i.rate_name : "—" }),
            el("td", { text: String(i.comments.length) }),
          ),
        ),
      );
    }
    const statusKey = JSON.stringify(ok.statuses);
    if (statusKey !== ui.drawn.statuses) {
      ui.drawn.statuses = statusKey;
      const select = $("status-select");
      const keep = select.value;
      select.replaceChildren(...ok.statuses.map((s) => el("option", { value: s.code, text: `${s.name} (${s.code})` })));
      if (keep) select.value = keep;
    }
    const issue = currentIssue();
    const issueKey = JSON.stringify(issue);
    if (force || issueKey !== ui.drawn.issue) {
      const switched = !ui.drawn.issue || (issue && JSON.parse(ui.drawn.issue || "null")?.id !== issue.id);
      ui.drawn.issue = issueKey;
      drawIssue(issue, switched);
    }
    const logKey = JSON.stringify([ok.webhooks, ok.calls]);
    if (logKey !== ui.drawn.logs) {
      ui.drawn.logs = logKey;
      $("webhook-log").replaceChildren(...ok.webhooks.slice().reverse().map(webhookItem));
      $("call-log").replaceChildren(
        ...ok.calls.slice().reverse().map((c) => el("li", {}, el("span", { class: c.status < 300 ? "code ok" : "code bad", text: String(c.status) }), ` ${c.path || c.endpoint}`)),
      );
    }
  }

  function statusBadge(status) {
    return el("span", { class: `status status-${status.code}`, text: status.name });
  }

  function webhookItem(w) {
    const code = w.status === null ? "no answer" : String(w.status);
    return el(
      "li",
      { title: w.error || w.response || "" },
      el("span", { class: w.ok ? "code ok" : "code bad", text: code }),
      ` ${w.event_type || "?"} · issue ${w.issue_id || "?"} → ${w.url}`,
      w.error ? el("span", { class: "muted", text: ` (${w.error})` }) : null,
    );
  }

  function drawIssue(issue, switched) {
    const box = $("issue-detail");
    box.hidden = !issue;
    if (!issue) return;
    box.dataset.issueId = String(issue.id);
    $("issue-number").textContent = `Заявка №${issue.id}:`;
    $("issue-title").textContent = issue.title;
    const fields = [
      ["Status", statusBadge(issue.status), issue.old_status ? el("span", { class: "muted", text: ` (was ${issue.old_status.name})` }) : null],
      ["Contact", issue.contact ? `${issue.contact.name}${issue.contact.phone ? ` · ${issue.contact.phone}` : ""}` : "—"],
      ["Company", issue.company ? issue.company.name : "—"],
      ["Assignee", issue.assignee ? `${issue.assignee.name}${issue.group ? ` · ${issue.group.name}` : ""}` : "—"],
      ["Created", okdeskTime(issue.created_at)],
      ["Completed", okdeskTime(issue.completed_at)],
      ["Okdesk rate", issue.rate ? `${issue.rate_name} (${issue.rate})` : "—"],
    ];
    $("issue-fields").replaceChildren(...fields.flatMap(([k, ...v]) => [el("dt", { text: k }), el("dd", { "data-field": k.toLowerCase() }, ...v)]));
    $("issue-description").textContent = issue.description || "";
    $("issue-description").hidden = !issue.description;
    if (switched) {
      $("status-select").value = issue.status.code;
      $("status-result").hidden = true;
    }
    $("comments").replaceChildren(
      ...(issue.comments.length
        ? issue.comments.map((c) => {
            const body = el("div", { class: "comment-body" });
            body.innerHTML = c.html; // sanitized by the server
            return el(
              "div",
              { class: c.public ? "comment" : "comment internal", "data-comment-id": String(c.id) },
              el(
                "div",
                { class: "comment-head" },
                el("b", { text: c.author.name }),
                el("span", { class: "muted", text: ` · ${c.author.type === "contact" ? "contact" : "employee"} · ${okdeskTime(c.published_at)}` }),
                el("span", { class: c.public ? "badge" : "badge amber", text: c.public ? "public" : "internal" }),
              ),
              body,
            );
          })
        : [el("p", { class: "muted", text: "No comments." })]),
    );
    $("issue-webhooks").replaceChildren(...(issue.webhooks.length ? issue.webhooks.slice().reverse().map(webhookItem) : [el("li", { class: "muted", text: "none yet" })]));
  }

  // -- actions -------------------------------------------------------------------------------

  async function act(action, body) {
    if (ui.chatId === null) return;
    showError("chat-error", "");
    try {
      await api(`/api/telegram/chats/${ui.chatId}/${action}`, body);
    } catch (e) {
      showError("chat-error", e.message);
    }
    refreshSoon();
  }

  function wire() {
    $("chat-list").addEventListener("click", (ev) => {
      const item = ev.target.closest("[data-chat-id]");
      if (item) selectChat(Number(item.dataset.chatId));
    });
    $("messages").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button.ikb-btn");
      if (!btn || btn.disabled) return;
      btn.classList.add("pending");
      act("press", { message_id: Number(btn.dataset.messageId), data: btn.dataset.callbackData });
    });
    $("reply-keyboard").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button.kb-btn");
      if (!btn) return;
      if (btn.dataset.requestContact) {
        const chat = currentChat();
        let phone = chat && chat.phone_number;
        if (!phone) phone = prompt("This user has no phone number. Which number to share?", "");
        if (phone) act("share-contact", { phone_number: phone });
      } else {
        act("send", { text: btn.dataset.replyText });
      }
    });
    $("commands").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button.cmd-btn");
      if (btn) act("send", { text: btn.dataset.command });
    });
    $("composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("composer-text");
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      act("send", { text });
    });
    $("add-user-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = ev.target;
      const body = Object.fromEntries(new FormData(form).entries());
      body.id = Number(body.id);
      showError("add-user-error", "");
      try {
        const chat = await api("/api/telegram/users", body);
        form.reset();
        $("add-user").open = false;
        ui.chatId = chat.id;
        refreshSoon();
      } catch (e) {
        showError("add-user-error", e.message);
      }
    });
    $("issue-rows").addEventListener("click", (ev) => {
      const row = ev.target.closest("[data-issue-id]");
      if (row) selectIssue(Number(row.dataset.issueId));
    });
    $("status-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (ui.issueId === null) return;
      const result = $("status-result");
      const apply = $("status-apply");
      apply.disabled = true;
      result.hidden = false;
      result.className = "status-result";
      result.textContent = "Sending the webhook…";
      try {
        const answer = await api(`/api/okdesk/issues/${ui.issueId}/status`, {
          status: $("status-select").value,
          comment: $("status-comment").value,
        });
        $("status-comment").value = "";
        const parts = answer.deliveries.map((d) => `${d.url} → ${d.status === null ? `no answer (${d.error})` : `HTTP ${d.status}`}`);
        result.textContent = `Status: ${answer.issue.status.name}. ` + (parts.length ? `Webhook: ${parts.join("; ")}` : "No webhook target registered: nothing was sent.");
        result.className = answer.deliveries.every((d) => d.ok) ? "status-result ok" : "status-result bad";
      } catch (e) {
        result.textContent = e.message;
        result.className = "status-result bad";
      } finally {
        apply.disabled = false;
      }
      refreshSoon();
    });
    window.addEventListener("popstate", () => {
      readLocation();
      if (ui.data) renderOkdesk(true);
    });
  }

  readLocation();
  wire();
  poll();
})();
