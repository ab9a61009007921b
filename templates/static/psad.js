// psad dashboard: progressive enhancement only. Pages work without it.
// A queued or running run's page (and busy rows on the overview) follow the
// run through the JSON API. PSA text is only ever set with textContent.
"use strict";

(function () {
  const FINAL = ["succeeded", "partial", "failed", "interrupted", "cancelled"];
  const OUTCOMES = ["queued", "running"].concat(FINAL);
  const RUN_POLL_MS = 1000;
  const OVERVIEW_POLL_MS = 2000;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function badge(outcome) {
    const known = OUTCOMES.includes(outcome) ? outcome : "unknown";
    return el("span", outcome, "badge badge-" + known);
  }

  function entityLabel(entity) {
    const words = String(entity || "run").replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function number(value) {
    return typeof value === "number" ? value.toLocaleString("en-US") : String(value ?? "");
  }

  function utc(iso) {
    if (!iso) return "";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return String(iso);
    return moment.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  function ago(iso) {
    const seconds = (new Date() - new Date(iso)) / 1000;
    if (!iso || Number.isNaN(seconds)) return "never";
    if (seconds < 5) return "just now";
    if (seconds < 60) return Math.floor(seconds) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function duration(start, end) {
    if (!start) return "—";
    const seconds = ((end ? new Date(end) : new Date()) - new Date(start)) / 1000;
    if (seconds < 10) return seconds.toFixed(1) + " s";
    if (seconds < 3600) {
      const minutes = Math.floor(seconds / 60);
      const rest = Math.floor(seconds % 60);
      return minutes ? minutes + " min " + rest + " s" : rest + " s";
    }
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  function replaceRows(tbody, rows, emptyText, columns) {
    tbody.replaceChildren();
    if (rows.length === 0) {
      const row = el("tr", null, "placeholder");
      const cell = el("td", emptyText, "muted");
      cell.colSpan = columns;
      row.append(cell);
      tbody.append(row);
      return;
    }
    for (const cells of rows) {
      const row = el("tr");
      row.append(...cells);
      tbody.append(row);
    }
  }

  async function getJSON(url) {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  // -- a run's page ------------------------------------------------------------

  function followRun(root) {
    const runId = root.dataset.liveRun;
    const field = (name) => root.querySelector('[data-run-field="' + name + '"]');

    function progressText(run) {
      if (run.outcome === "running") {
        const on = run.current_entity ? ": on " + run.current_entity.replace(/_/g, " ") : "";
        return "Running" + on + ". This page follows it.";
      }
      if (run.outcome === "queued") {
        const where = run.position ? " at position " + run.position + " in the queue" : "";
        return "Waiting" + where + ". This page follows it.";
      }
      return "Finished: " + run.outcome + ".";
    }

    function entityRow(e) {
      const name = el("th", entityLabel(e.entity));
      name.scope = "row";
      if (!e.complete) name.append(" ", el("span", "incomplete", "mark"));
      const nums = ["fetched", "created", "updated", "unchanged", "deleted", "rejected", "requests"]
        .map((key) => el("td", number(e[key]), "num"));
      return [name, el("td", e.mode)].concat(nums,
        [el("td", duration(e.started_at, e.finished_at)), el("td", e.note || "")]);
    }

    function errorRow(err) {
      return [el("td", entityLabel(err.entity)), el("td", err.psa_id || "—"),
        el("td", err.message, "message"), el("td", utc(err.at))];
    }

    function render(run) {
      const outcome = field("outcome");
      outcome.textContent = run.outcome;
      outcome.className = badge(run.outcome).className;
      field("progress").textContent = progressText(run);
      field("started_at").textContent = run.started_at ? utc(run.started_at) : "not yet";
      field("finished_at").textContent = run.finished_at ? utc(run.finished_at) : "not yet";
      field("duration").textContent = duration(run.started_at, run.finished_at);
      field("error").textContent = run.error || "—";
      field("error_count").textContent = String(run.errors.length);
      replaceRows(root.querySelector("[data-run-entities]"), run.entities.map(entityRow),
        "No entity has started yet.", 11);
      replaceRows(root.querySelector("[data-run-errors]"), run.errors.map(errorRow),
        "No record errors.", 4);
    }

    async function poll() {
      try {
        const run = await getJSON("/api/runs/" + encodeURIComponent(runId));
        render(run);
        if (FINAL.includes(run.outcome)) {
          root.dataset.runFinished = run.outcome;
          return;
        }
        setTimeout(poll, RUN_POLL_MS);
      } catch (err) {
        field("progress").textContent = "Lost contact with psad (" + err.message + "); retrying…";
        setTimeout(poll, RUN_POLL_MS * 3);
      }
    }

    setTimeout(poll, RUN_POLL_MS);
  }

  // -- busy rows on the overview -------------------------------------------------

  function followIntegration(row) {
    const name = row.dataset.liveIntegration;
    const state = row.querySelector('[data-field="state"]');
    const lastSuccess = row.querySelector('[data-field="last_success"]');

    function runLink(runId, outcome) {
      const link = el("a");
      link.href = "/runs/" + encodeURIComponent(runId);
      link.append(badge(outcome));
      return link;
    }

    function render(item) {
      const parts = [];
      if (item.running) {
        const on = item.running.entity ? "on " + item.running.entity.replace(/_/g, " ") : "starting";
        parts.push(runLink(item.running.run_id, "running"), " ", el("span", on, "detail"), " ");
      }
      if (item.queued) {
        parts.push(runLink(item.queued.run_id, "queued"), " ",
          el("span", "#" + item.queued.position + " in the queue", "detail"));
      }
      if (item.state === "idle") {
        parts.push(el("span", "idle", "idle"), " · ");
        parts.push(item.last_run ? runLink(item.last_run.id, item.last_run.outcome)
          : el("span", "never synced", "muted"));
        if (item.last_success) {
          const link = el("a", ago(item.last_success.finished_at));
          link.href = "/runs/" + encodeURIComponent(item.last_success.id);
          link.title = utc(item.last_success.finished_at);
          lastSuccess.replaceChildren(link);
        }
      }
      state.replaceChildren(...parts);
    }

    async function poll() {
      try {
        const item = await getJSON("/api/integrations/" + encodeURIComponent(name));
        render(item);
        if (item.state === "idle") return;
      } catch (err) {
        // keep the server-rendered state; try again later
      }
      setTimeout(poll, OVERVIEW_POLL_MS);
    }

    setTimeout(poll, OVERVIEW_POLL_MS);
  }

  document.querySelectorAll("[data-live-run]").forEach(followRun);
  document.querySelectorAll("[data-live-integration]").forEach(followIntegration);
})();
