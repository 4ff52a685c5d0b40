// Diary and booking form behaviour. Everything here is an enhancement: each form works without it.
(function () {
  "use strict";

  // The appointment type sets the duration, unless the user typed one.
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (select.name === "appointment_type" && select.dataset.durations) {
      const duration = select.form.querySelector("[name=duration]");
      const minutes = JSON.parse(select.dataset.durations)[select.value];
      if (duration && minutes && !duration.dataset.touched) duration.value = minutes;
    }
    // A type that is usually telehealth ticks Telehealth (and another type unticks it), unless the user chose.
    if (select.name === "appointment_type" && select.dataset.telehealth) {
      const telehealth = select.form.querySelector("[name=is_telehealth]");
      const usually = JSON.parse(select.dataset.telehealth)[select.value];
      if (telehealth && usually !== undefined && !telehealth.dataset.touched && telehealth.checked !== usually) {
        telehealth.checked = usually;
        telehealth.dispatchEvent(new Event("change", { bubbles: true }));  // and suggest the Telehealth location
      }
    }
    if (select.name === "duration") select.dataset.touched = "1";
    if (select.name === "is_telehealth" && event.isTrusted) select.dataset.touched = "1";
    // Ticking Telehealth suggests the Telehealth location, so usual reminders print no street address.
    if (select.name === "is_telehealth" && select.checked && select.dataset.location) {
      const location = select.form.querySelector("[name=location]");
      if (location) location.value = select.dataset.location;
    }
    // "Select all" on the reminders screen.
    if (select.hasAttribute("data-select-all")) {
      select.closest("table").querySelectorAll("input[name=appointments]").forEach(function (box) {
        box.checked = select.checked;
      });
    }
    // Filters in the diary toolbar apply as soon as they change.
    if (select.form && select.form.hasAttribute("data-autosubmit")) select.form.submit();
  });

  // Close the side panel without leaving the diary.
  document.addEventListener("click", function (event) {
    const copy = event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(copy.dataset.copy).then(function () {
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = "Copy"; }, 1500);
      });
      return;
    }
    const close = event.target.closest("[data-close-panel]");
    const panel = document.getElementById("panel");
    if (close && panel && panel.contains(close)) {
      event.preventDefault();
      panel.innerHTML = "";
    }
  });

  document.addEventListener("keydown", function (event) {
    const panel = document.getElementById("panel");
    // Escape in an open dialog (the shortcuts help) closes only the dialog.
    if (event.key === "Escape" && panel && panel.innerHTML.trim() && !document.querySelector("dialog[open]")) {
      panel.innerHTML = "";
    }
  });

  // Opening "New client" carries the text typed in the client search into its empty fields:
  // an email, a mobile, "Last, First", "First Last" or a lone surname.
  function prefillNewClient(details) {
    const form = details.closest("form");
    const query = form && form.querySelector("[name=client_query]");
    const text = query ? query.value.trim() : "";
    if (!text) return;
    const set = function (name, value) {
      const input = form.querySelector("[name=" + name + "]");
      if (input && !input.value && value) input.value = value;
    };
    if (text.indexOf("@") > 0) { set("new_email", text); return; }
    if (/^[+\d][\d\s()-]{5,}$/.test(text)) { set("new_mobile", text); return; }
    const comma = text.indexOf(",");
    if (comma >= 0) {
      set("new_last_name", text.slice(0, comma).trim());
      set("new_first_name", text.slice(comma + 1).trim());
      return;
    }
    const words = text.split(/\s+/);
    if (words.length === 1) { set("new_last_name", words[0]); return; }
    set("new_first_name", words[0]);
    set("new_last_name", words.slice(1).join(" "));
  }
  document.addEventListener("toggle", function (event) {
    const details = event.target;
    if (details.classList && details.classList.contains("quick-add") && details.open) prefillNewClient(details);
  }, true);

  // diary_keys.js moves focus into the panel (its heading or its errors) when htmx fills it.
})();

// Open the day near the start of the working day rather than at the first row of the grid, and reopen
// the appointment panel a booking or a send came from (?open=<pk>).
(function () {
  "use strict";

  // The reopening gives way to the user: if they open something else in the panel, or close it, before its answer
  // comes, it is dropped. Otherwise an answer arriving last (a slow network) would replace what they opened, and
  // whatever they had typed into it, with the appointment they booked.
  function reopen(panel) {
    const htmx = window.htmx;
    function giveWay(event) {
      const closing = event.type === "click" && event.target.closest && event.target.closest("[data-close-panel]");
      const elsewhere = event.type === "htmx:beforeRequest" && event.detail.elt !== panel
        && event.detail.target === panel;
      if (closing || elsewhere) htmx.trigger(panel, "htmx:abort");
    }
    function done(event) {
      if (event.detail.elt !== panel) return;
      document.removeEventListener("htmx:beforeRequest", giveWay);
      document.removeEventListener("click", giveWay, true);
      document.removeEventListener("htmx:afterRequest", done);
    }
    document.addEventListener("htmx:beforeRequest", giveWay);
    document.addEventListener("click", giveWay, true);
    document.addEventListener("htmx:afterRequest", done);
    // The panel is the request's source, so htmx:abort on it cancels this request and no other.
    htmx.ajax("GET", panel.dataset.openUrl, { source: panel, target: "#panel", swap: "innerHTML" })
      .catch(function () {});  // dropped on purpose (above): not an error
  }

  document.addEventListener("DOMContentLoaded", function () {
    const panel = document.getElementById("panel");
    if (panel && panel.dataset.openUrl && window.htmx) reopen(panel);
    const diary = document.querySelector(".diary[data-scroll-to-row]");
    if (!diary) return;
    const row = Number(diary.dataset.scrollToRow);
    const slot = diary.querySelector(".slot");
    if (row > 0 && slot) diary.scrollTop = row * slot.getBoundingClientRect().height;
  });
})();

// A repeat's list of dates replaces the long booking form in the panel: show it from its top, not from where the
// form was scrolled to.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id === "panel" && event.target.querySelector(".series-confirm")) event.target.scrollTop = 0;
  });
})();
