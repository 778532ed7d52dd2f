// closeknit live dashboard: polls /api/overview and /api/alerts every 2 s.
// Plain JS, no dependencies. Every piece of data is inserted with textContent.
"use strict";

(function () {
  const POLL_MS = 2000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const token = new URLSearchParams(location.hash.replace(/^#/, "")).get("token");
  let previous = null; // {t: ms, counts: {topic: events}} from the last poll

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function fmt(x, digits) {
    return typeof x === "number" ? x.toFixed(digits === undefined ? 2 : digits) : "–";
  }

  function subjectText(subject) {
    if (!subject) return "";
    return subject.type + " " + subject.id + (subject.topic ? " · " + subject.topic : "");
  }

  function authHeaders() {
    return token ? { Authorization: "Bearer " + token } : {};
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: authHeaders(), cache: "no-store" });
    if (response.status === 401) {
      throw new Error("unauthorized: open this page as /#token=<CLOSEKNIT_API_TOKEN>");
    }
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    return response.json();
  }

  function setStatus(text, bad) {
    const node = document.getElementById("status");
    node.textContent = text;
    node.classList.toggle("bad", !!bad);
  }

  // -- alerts ------------------------------------------------------------------------------

  function evidenceBlock(evidence) {
    const box = el("div", { class: "evidence" });
    const people = (evidence && evidence.people) || [];
    if (people.length) {
      const list = el("ul", { class: "chips" });
      for (const p of people.slice(0, 8)) {
        const label = p.id + (p.role ? " · " + p.role : "") +
          (typeof p.influence === "number" ? " · " + fmt(p.influence, 1) : "");
        list.append(el("li", { class: "chip" }, label));
      }
      box.append(el("h4", {}, "People"), list);
    }
    const ties = (evidence && evidence.ties) || [];
    if (ties.length) {
      const list = el("ul", { class: "chips" });
      for (const t of ties.slice(0, 6)) {
        list.append(el("li", { class: "chip tie" }, t.a + " ↔ " + t.b + " " + fmt(t.strength)));
      }
      box.append(el("h4", {}, "Ties"), list);
    }
    const messages = (evidence && evidence.messages) || [];
    if (messages.length) {
      const list = el("ul", { class: "messages" });
      for (const m of messages.slice(0, 4)) {
        const quote = el("q", {}, m.excerpt || m.event_id);
        const link = typeof m.url === "string" && /^https?:\/\//.test(m.url)
          ? el("a", { href: m.url, target: "_blank", rel: "noopener noreferrer", class: "source" }, "source")
          : null;
        list.append(el("li", {},
          el("span", { class: "when" }, String(m.event_time || "").replace("T", " ").replace("Z", "")),
          m.handle ? el("span", { class: "handle" }, " @" + m.handle) : null,
          " ", quote, link ? " " : null, link));
      }
      box.append(el("h4", {}, "Messages"), list);
    }
    return box;
  }

  async function act(alert, action, button) {
    const body = { dedup_key: alert.dedup_key, action: action, by: "dashboard" };
    if (action === "snooze") body.snooze_s = 3600;
    button.disabled = true;
    try {
      const response = await fetch("/api/alerts/action", {
        method: "POST",
        headers: Object.assign({ "Content-Type": "application/json" }, authHeaders()),
        body: JSON.stringify(body),
      });
      if (response.status === 401) throw new Error("unauthorized: open this page as /#token=<CLOSEKNIT_API_TOKEN>");
      if (!response.ok) throw new Error("the " + action + " was refused: HTTP " + response.status);
      setStatus(action + " sent for " + alert.dedup_key);
    } catch (err) {
      setStatus(String(err.message || err), true);
      button.disabled = false;
    }
  }

  function actionBar(alert) {
    const bar = el("div", { class: "actions" });
    const acted = alert.actions || {};
    for (const [action, label] of [["ack", "Ack"], ["snooze", "Snooze 1 h"], ["resolve", "Resolve"]]) {
      const button = el("button", { type: "button", class: "act act-" + action, "data-action": action }, label);
      if (action === "ack" && acted.acked) button.disabled = true;
      button.addEventListener("click", () => act(alert, action, button));
      bar.append(button);
    }
    return bar;
  }

  function incidentNote(alert) {
    if (!alert.incident_id || alert.incident_id === alert.alert_id) return null;
    return el("p", { class: "incident" }, "part of incident " + alert.incident_id + " (pages there)");
  }

  function alertCard(alert) {
    // el() skips null children (the incident note and the buttons are optional).
    return el("article", { class: "alert-card sev-" + alert.severity, "data-kind": alert.kind },
      el("div", { class: "alert-head" },
        el("span", { class: "badge sev" }, alert.severity),
        el("span", { class: "kind" }, alert.kind),
        el("span", { class: "subject" }, subjectText(alert.subject)),
        el("span", { class: "state" }, alert.state +
          (alert.actions && alert.actions.acked ? " · acked" : "") +
          (alert.actions && alert.actions.snoozed_until ? " · snoozed" : ""))),
      el("p", { class: "summary" }, alert.summary),
      incidentNote(alert),
      el("p", { class: "meta" }, "window " + (alert.window ? alert.window.start + " → " + alert.window.end : "") +
        " · score " + fmt(alert.score)),
      evidenceBlock(alert.evidence),
      alert.open ? actionBar(alert) : null);
  }

  function renderAlerts(data) {
    const alerts = data.alerts || [];
    const open = alerts.filter((a) => a.open);
    const resolved = alerts.filter((a) => !a.open);
    const box = document.getElementById("alerts");
    box.replaceChildren(...(open.length ? open.map(alertCard) : [el("p", { class: "empty" }, "No open alerts.")]));
    document.getElementById("alerts-count").textContent = String(open.length);
    document.getElementById("resolved-count").textContent = String(resolved.length);
    document.getElementById("resolved").replaceChildren(...resolved.slice(0, 20).map((a) =>
      el("li", {}, el("span", { class: "kind" }, a.kind), " ", subjectText(a.subject), " — ", a.summary)));
  }

  // -- people ------------------------------------------------------------------------------

  function renderPeople(people) {
    const list = document.getElementById("people");
    if (!people.length) {
      list.replaceChildren(el("li", { class: "empty" }, "No people yet."));
      return;
    }
    const top = people[0].influence || 1;
    list.replaceChildren(...people.map((p) => {
      const bar = el("span", { class: "bar" });
      bar.style.width = Math.max(2, Math.round((100 * p.influence) / top)) + "%";
      const ties = (p.top_ties || []).map((t) => t.partner + " " + fmt(t.strength)).join(", ");
      return el("li", { class: "person" },
        el("div", { class: "person-head" },
          el("span", { class: "pid" }, p.id),
          el("span", { class: "score" }, fmt(p.influence, 1))),
        el("div", { class: "track" }, bar),
        el("div", { class: "ties" }, "reach " + fmt(p.reach, 1) + " · " + p.strong_ties + " strong of " +
          p.ties + " ties" + (ties ? " · " + ties : "")));
    }));
  }

  // -- clusters ----------------------------------------------------------------------------

  function clusterGraph(cluster) {
    const size = 220, r = 66, c = size / 2;
    const members = cluster.members || [];
    const pos = {};
    members.forEach((m, i) => {
      const a = (2 * Math.PI * i) / Math.max(1, members.length) - Math.PI / 2;
      pos[m] = [c + r * Math.cos(a), c + r * Math.sin(a)];
    });
    const g = svg("svg", { viewBox: "0 0 " + size + " " + size, class: "cluster-graph", role: "img" });
    const title = svg("title");
    title.textContent = "cluster " + cluster.id;
    g.append(title);
    for (const t of cluster.critical_ties || []) {
      if (!pos[t.a] || !pos[t.b]) continue;
      g.append(svg("line", {
        x1: pos[t.a][0], y1: pos[t.a][1], x2: pos[t.b][0], y2: pos[t.b][1],
        "stroke-width": (0.8 + 3 * (t.strength || 0)).toFixed(2), class: "edge",
      }));
    }
    for (const m of members) {
      const [x, y] = pos[m];
      g.append(svg("circle", { cx: x, cy: y, r: 7, class: "node" }));
      const label = svg("text", {
        x: c + (x - c) * 1.3, y: c + (y - c) * 1.3 + 3, "text-anchor": "middle", class: "label",
      });
      label.textContent = m;
      g.append(label);
    }
    return g;
  }

  function renderClusters(data) {
    const box = document.getElementById("clusters");
    if (data.clusters === null || data.clusters === undefined) {
      box.replaceChildren(el("p", { class: "empty" },
        "This worker does not hold the strong-tie graph; ask the worker assigned cluster-owner."));
      return;
    }
    if (!data.clusters.length) {
      box.replaceChildren(el("p", { class: "empty" }, "No clusters yet."));
      return;
    }
    box.replaceChildren(...data.clusters.map((cl) => el("figure", { class: "cluster" },
      clusterGraph(cl),
      el("figcaption", {}, cl.id + " · " + cl.size + " people · " + cl.state +
        (cl.alerting ? " · alerting" : "")))));
  }

  // -- throughput and dead letters ---------------------------------------------------------

  function rows(tbodyParent, items) {
    const tbody = tbodyParent.querySelector("tbody");
    tbody.replaceChildren(...items.map((cells) => el("tr", {},
      ...cells.map((v, i) => el("td", i ? { class: "num" } : {}, v)))));
  }

  function renderCounters(stats) {
    const now = performance.now();
    const counts = stats.events_in || {};
    const topics = Object.keys(counts).sort();
    const items = topics.map((topic) => {
      let rate = "–";
      if (previous && previous.counts[topic] !== undefined && now > previous.t) {
        rate = fmt(((counts[topic] - previous.counts[topic]) * 1000) / (now - previous.t), 1);
      }
      return [topic || "(all)", String(counts[topic]), rate];
    });
    previous = { t: now, counts };
    rows(document.getElementById("throughput"), items.length ? items : [["no events yet", "0", "–"]]);
    const dead = stats.dead_letters || {};
    const reasons = Object.keys(dead).sort();
    rows(document.getElementById("dead-letters"),
      reasons.length ? reasons.map((r) => [r || "(none)", String(dead[r])]) : [["none", "0"]]);
  }

  // -- loop --------------------------------------------------------------------------------

  async function poll() {
    try {
      const [overview, alerts] = await Promise.all([getJson("/api/overview"), getJson("/api/alerts")]);
      renderAlerts(alerts);
      renderPeople(overview.people || []);
      renderClusters(overview);
      renderCounters(overview.stats || {});
      const at = overview.at ? new Date(overview.at * 1000).toISOString().replace(".000Z", "Z") : "–";
      setStatus((overview.stats && overview.stats.ready ? "live" : "starting") +
        " · event time " + at + " · updated " + new Date().toLocaleTimeString());
    } catch (err) {
      setStatus(String(err.message || err), true);
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
