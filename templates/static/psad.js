// psad dashboard: progressive enhancement only. Pages work without it.
// A queued or running run's page (and busy rows on the overview) follow the
// run through the JSON API, with its live progress; Force Sync and Full Sync
// post in the background and their notice follows the run to its end.
// PSA text is only ever set with textContent.
"use strict";

(function () {
  const FINAL = ["succeeded", "partial", "failed", "interrupted", "cancelled"];
  const OUTCOMES = ["queued", "running"].concat(FINAL);
  const RUN_POLL_MS = 1000;
  const OVERVIEW_POLL_MS = 1000;

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

  function seconds(value) {
    return value < 90 ? Math.round(value) + " s" : Math.round(value / 60) + " min";
  }

  // "assets 1,200 of 4,000 (30%, about 12 s left)" for each entity still being fetched
  function activeEntities(progress) {
    return Object.entries(progress.entities || {}).filter(([, part]) => !part.done)
      .map(([name, part]) => {
        let text = name.replace(/_/g, " ") + " " + number(part.fetched);
        if (part.total !== null) text += " of " + number(part.total);
        if (part.percent !== null) {
          text += " (" + Math.round(part.percent) + "%";
          text += part.seconds_left !== null ? ", about " + seconds(part.seconds_left) + " left)" : ")";
        }
        return text;
      });
  }

  function progressSummary(progress) {
    return number(progress.fetched) + " fetched · " + number(progress.written) + " written · " +
      number(progress.rejected) + " rejected · " + Math.round(progress.percent) + "% of entities";
  }

  function progressBar(percent) {
    const bar = el("progress", null, "bar");
    bar.max = 100;
    bar.value = percent;
    bar.textContent = Math.round(percent) + "%";
    return bar;
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
        const counts = run.progress ? " " + progressSummary(run.progress) + "." : "";
        return "Running" + on + "." + counts + " This page follows it.";
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
        el("td", err.message, "message"), el("td", utc(err.at), "nowrap")];
    }

    function failureItem(err) {
      const item = el("li");
      item.append(el("strong", entityLabel(err.entity)));
      if (err.kind === "note") item.append(" ", el("span", "note", "mark"));
      item.append(" ", el("span", utc(err.at), "detail"), el("p", err.message, "message"));
      return item;
    }

    function progressRow([name, part]) {
      const entity = el("th", entityLabel(name));
      entity.scope = "row";
      const done = el("td");
      if (part.percent !== null) done.append(progressBar(part.percent), " " + Math.round(part.percent) + "%");
      else done.append(el("span", part.done ? "done" : "—", "muted"));
      const left = part.done ? "—" : part.seconds_left !== null ? "about " + seconds(part.seconds_left) : "—";
      return [entity, el("td", number(part.fetched), "num"), el("td", number(part.written), "num"),
        el("td", number(part.rejected), "num"), el("td", part.total === null ? "—" : number(part.total), "num"),
        done, el("td", left, "nowrap")];
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
      const records = run.errors.filter((err) => err.kind === "record");
      const failures = run.errors.filter((err) => err.kind !== "record");
      field("error_count").textContent = String(records.length);
      field("failure_count").textContent = String(failures.length);
      replaceRows(root.querySelector("[data-run-entities]"), run.entities.map(entityRow),
        "No entity has started yet.", 11);
      replaceRows(root.querySelector("[data-run-errors]"), records.map(errorRow),
        "No record errors.", 4);
      const list = root.querySelector("[data-run-failures]");
      list.replaceChildren(...(failures.length ? failures.map(failureItem)
        : [el("li", "Every entity was fetched.", "muted")]));
      const live = root.querySelector("[data-run-live-progress]");
      live.hidden = !run.progress;
      if (run.progress) {
        replaceRows(root.querySelector("[data-run-progress]"),
          Object.entries(run.progress.entities).map(progressRow), "No entity has started yet.", 7);
      }
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

  function followIntegration(row, soon) {
    const name = row.dataset.integration;
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
        const progress = item.running.progress;
        if (progress) {
          const box = el("div", null, "row-progress");
          box.append(progressBar(progress.percent), " ",
            el("span", progressSummary(progress), "detail"));
          for (const line of activeEntities(progress)) box.append(el("div", line, "detail"));
          parts.push(box);
        }
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
        if (item.state === "idle") {
          delete row.dataset.following;
          return;
        }
      } catch (err) {
        // keep the server-rendered state; try again later
      }
      setTimeout(poll, OVERVIEW_POLL_MS);
    }

    if (row.dataset.following) return;
    row.dataset.following = "1";
    setTimeout(poll, soon ? RUN_POLL_MS / 4 : OVERVIEW_POLL_MS);
  }

  // -- notices that follow a run to its end ----------------------------------------

  function followNotice(notice) {
    const runId = notice.dataset.followRun;
    const label = notice.dataset.label;

    function text(run) {
      const link = el("a", "run #" + runId);
      link.href = "/runs/" + encodeURIComponent(runId);
      const parts = [label + ": ", link, " "];
      if (run.outcome === "queued") {
        parts.push("is queued" + (run.position ? " (position " + run.position + " in the queue)" : "") + ".");
      } else if (run.outcome === "running") {
        parts.push("is running" + (run.progress ? ": " + progressSummary(run.progress) : "") + ".");
      } else {
        const sum = (key) => run.entities.reduce((total, e) => total + e[key], 0);
        parts.push(badge(run.outcome), " " + number(sum("fetched")) + " fetched, " +
          number(sum("created")) + " created, " + number(sum("updated")) + " updated, " +
          number(sum("deleted")) + " deleted, " + number(sum("rejected")) + " rejected.");
      }
      notice.replaceChildren(...parts);
    }

    async function poll() {
      try {
        const run = await getJSON("/api/runs/" + encodeURIComponent(runId));
        text(run);
        if (FINAL.includes(run.outcome)) {
          notice.dataset.runFinished = run.outcome;
          notice.className = "alert " + (run.outcome === "succeeded" ? "alert-ok" : "alert-error");
          return;
        }
      } catch (err) {
        // keep the last text; try again later
      }
      setTimeout(poll, RUN_POLL_MS);
    }

    setTimeout(poll, RUN_POLL_MS / 4);
  }

  // -- Force Sync and Full Sync without leaving the page ------------------------------

  function enhanceSyncForm(form) {
    const notices = document.querySelector("[data-notices]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form, event.submitter);
      const full = data.get("full") === "1";
      const name = form.dataset.integration;
      const buttons = form.querySelectorAll("button");
      buttons.forEach((button) => { button.disabled = true; });
      const notice = el("p", null, "alert alert-info");
      notice.dataset.label = (full ? "Full Sync" : "Force Sync") + " for " + name;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new URLSearchParams(data),
          headers: { Accept: "application/json", "X-CSRF-Token": String(data.get("csrf_token")) },
          credentials: "same-origin",
        });
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(answer.error || "HTTP " + response.status);
        notice.dataset.followRun = answer.run_id;
        notice.textContent = notice.dataset.label + ": run #" + answer.run_id +
          (answer.deduplicated ? " was already asked for, so no second run was added." : " is queued.");
        followNotice(notice);
        followIntegration(form.closest("tr[data-integration]"), true);
      } catch (err) {
        notice.className = "alert alert-error";
        notice.textContent = notice.dataset.label + " failed: " + err.message;
      } finally {
        buttons.forEach((button) => { button.disabled = false; });
      }
      notices.prepend(notice);
    });
  }

  document.querySelectorAll("[data-live-run]").forEach(followRun);
  document.querySelectorAll("[data-live-integration]").forEach((row) => followIntegration(row));
  document.querySelectorAll("[data-follow-run]").forEach(followNotice);
  document.querySelectorAll("form[data-sync-form]").forEach(enhanceSyncForm);
})();
