// The diary grid's empty slots, then keyboard first: the grid as one tab stop with arrow keys (roving tabindex),
// shortcuts with a help overlay, focus that follows the side panel, the booking's length previewed on the grid, and
// the current-time line. Without JavaScript the grid shows the appointments, and the toolbar's "New appointment"
// books.
(function () {
  "use strict";

  const SLOT_MINUTES = 15;
  const ROWS_PER_PAGE = 4;  // PageUp/PageDown move an hour
  const GRID_KEYS = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"];

  function diary() { return document.querySelector(".diary"); }
  function panel() { return document.getElementById("panel"); }
  function isGridItem(el) {
    return !!(el && el.closest && el.closest(".diary .col") && (el.matches("a.slot") || el.matches(".appt")));
  }
  function isTyping(el) {
    return !!(el && (el.isContentEditable || el.matches("input, select, textarea")));
  }
  function hhmm(minutes) {
    return String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
  }

  // --- The empty slots ---------------------------------------------------------------------------------
  // The server sends each column's working hours (data-hours: "480-720 780-1020", minutes after midnight) and
  // the page's booking URL instead of a link per 15 minutes: those were two fifths of a full day's page. Each
  // row of a column gets its slot, shaded outside working hours: a link that books that time where the user may
  // book (data-droppable), else a plain shaded cell. They come before the column's blocks (the CSS counts them).
  function drawSlots(grid) {
    const first = Number(grid.dataset.firstMinute) || 0;
    const rows = Number(grid.style.getPropertyValue("--rows")) || 0;
    grid.querySelectorAll(":scope > .col").forEach(function (col) {
      if (col.querySelector(":scope > .slot")) return;
      const hours = (col.dataset.hours || "").split(" ").filter(Boolean).map(function (span) {
        return span.split("-").map(Number);
      });
      const bookable = col.hasAttribute("data-droppable");
      const link = grid.dataset.bookUrl + "?practitioner=" + col.dataset.practitioner + "&start=" + col.dataset.date
        + "T";
      const slots = document.createDocumentFragment();
      for (let row = 0; row < rows; row++) {
        const minute = first + row * SLOT_MINUTES;
        const working = hours.some(function (span) { return span[0] <= minute && minute < span[1]; });
        const slot = document.createElement(bookable ? "a" : "span");
        slot.className = working ? "slot" : "slot off";
        if (bookable) {
          slot.setAttribute("href", link + hhmm(minute));
          slot.title = "Book " + hhmm(minute);
        }
        slots.appendChild(slot);
      }
      col.insertBefore(slots, col.firstChild);
    });
  }
  // Now, not at DOMContentLoaded: this script is deferred, so the page is parsed, and the other scripts' handlers
  // for DOMContentLoaded (htmx boosting the links, scrolling the grid to its first row) find the slots there.
  document.querySelectorAll(".diary[data-book-url]").forEach(drawSlots);

  // --- The grid's cells ---------------------------------------------------------------------------------
  // A column's rows are its 15-minute slots; an appointment block covers the rows its time overlaps.
  // Rows and columns are read from the page when a key is pressed, so blocks added or moved later count.

  // Columns on screen: a narrow screen may show one practitioner at a time and hide the others.
  function columns(grid) {
    return Array.from((grid || diary()).querySelectorAll(".col")).filter(function (col) {
      return col.getClientRects().length > 0;
    });
  }
  function slotsOf(col) { return col.querySelectorAll(":scope > .slot"); }
  function blocksOf(col) {
    return Array.from(col.querySelectorAll(":scope > .appt")).map(function (el) {
      const top = parseFloat(el.style.getPropertyValue("--top")) || 0;
      const length = parseFloat(el.style.getPropertyValue("--len")) || 1;
      return { el: el, top: top, end: top + length };
    }).sort(function (a, b) { return a.top - b.top; });
  }
  function rowOf(el) {
    if (el.matches(".appt")) return Math.floor(parseFloat(el.style.getPropertyValue("--top")) || 0);
    return Array.prototype.indexOf.call(slotsOf(el.parentElement), el);
  }
  // What has focus at a row of a column: the block over it, else the slot if it can be booked, else nothing.
  function cellAt(col, row) {
    const block = blocksOf(col).find(function (b) { return b.top < row + 1 && b.end > row; });
    if (block) return block.el;
    const slot = slotsOf(col)[row];
    return slot && slot.matches("a") ? slot : null;
  }
  // The nearest cell from ``row`` on in steps of ``step`` rows that is not ``current``.
  function findInColumn(col, row, step, current) {
    const rows = slotsOf(col).length;
    for (let r = row; r >= 0 && r < rows; r += step) {
      const cell = cellAt(col, r);
      if (cell && cell !== current) return cell;
    }
    return null;
  }

  function rovingItem() {
    const grid = diary();
    return grid && grid.querySelector('.col > [tabindex="0"]');
  }
  function makeRoving(el) {
    const previous = rovingItem();
    if (previous && previous !== el) previous.tabIndex = -1;
    el.tabIndex = 0;
  }
  function focusCell(el) {
    makeRoving(el);
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function target(current, key) {
    const col = current.parentElement;
    const cols = columns();
    const colIndex = cols.indexOf(col);
    const row = rowOf(current);
    const last = slotsOf(col).length - 1;
    switch (key) {
      case "ArrowDown": return findInColumn(col, row + 1, 1, current);
      case "ArrowUp": return findInColumn(col, row - 1, -1, current);
      case "PageDown": return findInColumn(col, Math.min(last, row + ROWS_PER_PAGE), 1, current)
        || findInColumn(col, last, -1, current);
      case "PageUp": return findInColumn(col, Math.max(0, row - ROWS_PER_PAGE), -1, current)
        || findInColumn(col, 0, 1, current);
      case "Home": return findInColumn(col, 0, 1, null);
      case "End": return findInColumn(col, last, -1, null);
      case "ArrowLeft":
      case "ArrowRight": {
        // The same time in the next column that has something to focus there (a colleague's column
        // may show only blocks to a practitioner).
        const step = key === "ArrowRight" ? 1 : -1;
        for (let c = colIndex + step; c >= 0 && c < cols.length; c += step) {
          const cell = cellAt(cols[c], Math.min(row, slotsOf(cols[c]).length - 1));
          if (cell) return cell;
        }
        return null;
      }
    }
    return null;
  }

  // Every cell leaves the tab order but one: the cell at the row the day opens at in the first column that has
  // one there (a practitioner's colleagues' columns have no bookable slots). Run again when htmx brings a new grid.
  function setUpGrid(grid) {
    grid.querySelectorAll(".col > a.slot, .col > .appt").forEach(function (el) { el.tabIndex = -1; });
    placeTabStop(grid);
  }
  function placeTabStop(grid) {
    const row = Number(grid.dataset.scrollToRow) || 0;
    let first = null;
    const cols = columns(grid);
    cols.some(function (col) { first = cellAt(col, row); return !!first; });
    if (!first) cols.some(function (col) { first = findInColumn(col, row, 1, null); return !!first; });
    if (!first) cols.some(function (col) { first = findInColumn(col, 0, 1, null); return !!first; });
    if (first) makeRoving(first);
  }
  // The tab stop moves out of a column that was hidden (a column switcher, a narrower window), before the
  // next Tab can need it.
  function keepTabStopShown() {
    const grid = diary();
    const item = grid && rovingItem();
    if (grid && !(item && item.getClientRects().length)) placeTabStop(grid);
  }

  document.addEventListener("focusin", function (event) {
    if (isGridItem(event.target)) makeRoving(event.target);
    else keepTabStopShown();
  });
  window.addEventListener("resize", keepTabStopShown);
  // Registered before the shortcuts below, so a key used here is not also a shortcut. Another script that
  // claims a key on the grid first (preventDefault) keeps it.
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || !isGridItem(event.target) || GRID_KEYS.indexOf(event.key) < 0) return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const next = target(event.target, event.key);
    if (next) focusCell(next);
  });

  // "Skip to diary" lands on the grid's tab stop rather than before it.
  document.addEventListener("click", function (event) {
    const skip = event.target.closest && event.target.closest("a[data-skip-to-grid]");
    if (skip) keepTabStopShown();
    const item = skip && rovingItem();
    if (item) {
      event.preventDefault();
      focusCell(item);
    }
  });

  // --- Focus and the side panel ------------------------------------------------------------------------
  // The element that opened the panel gets focus back when the panel closes.
  let opener = null;
  let focusWasInPanel = false;

  document.addEventListener("htmx:configRequest", function (event) {
    const box = panel();
    if (!box || event.detail.target !== box) return;
    const elt = event.detail.elt;
    if (box.contains(elt) && elt !== box) return;  // a form or link inside the panel: same opener
    const path = event.detail.path;
    const shown = Array.from(document.querySelectorAll(".diary .col > a")).find(function (a) {
      return a.getAttribute("href") === path;
    });
    // htmx.ajax() (the ?open= appointment, the N shortcut) names the body as its source: not somewhere to return to.
    const focusable = elt && elt !== box && elt !== document.body && elt.focus;
    opener = isGridItem(elt) ? elt : shown || (focusable ? elt : null);
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    const box = panel();
    if (box && event.detail.target === box) focusWasInPanel = box.contains(document.activeElement);
  });

  function isBackgroundRequest(elt) {
    const trigger = (elt && elt.getAttribute && elt.getAttribute("hx-trigger")) || "";
    return /\b(load|every)\b/.test(trigger);
  }

  // Errors are focused and scrolled into view; otherwise the panel's heading takes focus, not its first
  // button (one stray Enter would mark the client arrived).
  function firstError(container) {
    return container.querySelector(".form-errors")
      || container.querySelector(".has-error input:not([type=hidden]), .has-error select, .has-error textarea");
  }
  function focusPanel(box) {
    const error = firstError(box);
    if (error) {
      error.focus({ preventScroll: true });
      error.scrollIntoView({ block: "center" });
      return;
    }
    const heading = box.querySelector(".panel-head h2");
    if (heading) heading.focus({ preventScroll: true });
    box.scrollTop = 0;
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    const box = panel();
    if (!box || event.target !== box) return;
    // A panel reloading itself (a Zoom meeting became ready) keeps the user's place unless they were in it.
    if (!isBackgroundRequest(event.detail.elt) || focusWasInPanel) focusPanel(box);
    updateBookingPreview();
  });

  function watchPanelClose() {
    const box = panel();
    if (!box) return;
    new MutationObserver(function () {
      if (box.innerHTML.trim()) return;
      updateBookingPreview();
      const active = document.activeElement;
      if (active && active !== document.body && !box.contains(active)) return;
      const back = opener && opener.isConnected ? opener : rovingItem();
      if (back) {
        if (isGridItem(back)) focusCell(back);
        else back.focus();
      }
    }).observe(box, { childList: true });
  }

  // On a phone the panel is a full-screen sheet over the diary (app.css): Tab and Shift+Tab go round inside
  // it while it is open, as in a dialog, rather than into the grid hidden behind it. Escape closes it
  // (booking.js) and focus goes back to what opened it (above). On a wider screen the panel sits beside the
  // diary and is not modal.
  const SHEET = window.matchMedia("(max-width: 760px)");
  const TABBABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), "
    + "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";

  function tabbables(box) {
    return Array.from(box.querySelectorAll(TABBABLE)).filter(function (el) {
      // Not shown (a closed <details>, display: none) means not reachable by Tab either.
      if (el.tabIndex < 0 || !el.getClientRects().length || el.closest("[inert]")) return false;
      // A group of radio buttons is one stop: the checked one, else the first.
      if (el.type !== "radio" || el.checked || !el.form) return true;
      const group = Array.from(el.form.elements).filter(function (other) {
        return other.type === "radio" && other.name === el.name;
      });
      return !group.some(function (other) { return other.checked; }) && group[0] === el;
    });
  }

  // For screen readers the sheet is a modal dialog, named by its heading: the diary behind it is out of reach. Its
  // content is not also a live region: focus goes to its heading as it opens, and its alerts speak for themselves.
  function updateSheetRole() {
    const box = panel();
    if (!box) return;
    box.setAttribute("role", SHEET.matches ? "dialog" : "region");
    if (SHEET.matches) {
      box.setAttribute("aria-modal", "true");
      box.removeAttribute("aria-live");
    } else {
      box.removeAttribute("aria-modal");
      box.setAttribute("aria-live", "polite");
    }
  }
  SHEET.addEventListener("change", updateSheetRole);
  document.addEventListener("DOMContentLoaded", updateSheetRole);

  document.addEventListener("keydown", function (event) {
    const box = panel();
    if (event.key !== "Tab" || event.defaultPrevented || !SHEET.matches || !box || !box.innerHTML.trim()) return;
    if (document.querySelector("dialog[open]")) return;  // a dialog (the move confirm, the help) traps its own
    const stops = tabbables(box);
    if (!stops.length) return;
    const active = document.activeElement;
    // Where focus stands among the stops; the heading (focused when the sheet opens) or a focused error is no
    // stop of its own but stands between them all the same.
    const before = stops.filter(function (stop) {
      return stop.compareDocumentPosition(active) & Node.DOCUMENT_POSITION_FOLLOWING;
    });
    const after = stops.filter(function (stop) {
      return active.compareDocumentPosition(stop) & Node.DOCUMENT_POSITION_FOLLOWING;
    });
    let wrapTo = null;
    if (!box.contains(active)) wrapTo = event.shiftKey ? stops[stops.length - 1] : stops[0];
    else if (event.shiftKey && !before.length) wrapTo = stops[stops.length - 1];
    else if (!event.shiftKey && !after.length) wrapTo = stops[0];
    if (wrapTo) {
      event.preventDefault();
      wrapTo.focus();
    }
  });

  // A whole page with a form that failed (no panel): its errors are in view and focused too.
  function focusPageErrors() {
    const main = document.querySelector("main");
    const error = main && firstError(main);
    if (error && !(panel() && panel().contains(error))) {
      error.focus({ preventScroll: true });
      error.scrollIntoView({ block: "center" });
    }
  }

  // --- Picking a client in the booking form from the keyboard ------------------------------------------
  // ↓ (or Enter) in the search box picks the first match; Enter on a match books. Without this, Enter
  // presses the form's first button, "Find": the search for browsers without JavaScript, which reloads the form.
  document.addEventListener("keydown", function (event) {
    const el = event.target;
    const form = el.closest && el.closest("form.booking-form");
    if (!form) return;
    if ((event.key === "ArrowDown" || event.key === "Enter") && el.name === "client_query") {
      const first = form.querySelector("#client-matches input[name=client]");
      if (first) {
        event.preventDefault();
        first.checked = true;
        first.focus();
      } else if (event.key === "Enter" && window.htmx && el.value.trim()) {
        event.preventDefault();
        window.htmx.trigger(el, "search");  // search now rather than after the typing pause
      }
    } else if (event.key === "Enter" && el.name === "client" && el.type === "radio") {
      event.preventDefault();
      el.checked = true;
      form.requestSubmit(form.querySelector(".actions button[type=submit]"));
    }
  });

  // --- Booking preview: the appointment's length on the grid, and a slot too short ---------------------

  function bookingForm() {
    const box = panel();
    return box ? box.querySelector("form.booking-form") : null;
  }

  function bookingMinutes(form) {
    const typed = parseInt(form.elements.duration && form.elements.duration.value, 10);
    if (typed > 0) return typed;
    const type = form.elements.appointment_type;
    if (!type || !type.value || !type.dataset.durations) return 0;
    return JSON.parse(type.dataset.durations)[type.value] || 0;
  }

  // Why the chosen time does not fit in its column (from the blocks and shaded slots shown), or "".
  function tooShortReason(col, startRow, endRow, first) {
    const clash = blocksOf(col).find(function (b) { return b.top < endRow && b.end > startRow; });
    if (clash) {
      const at = first + Math.round(clash.top * SLOT_MINUTES);
      if (clash.top <= startRow) {
        return "This time is already booked (" + hhmm(at) + "–" + hhmm(first + Math.round(clash.end * SLOT_MINUTES))
          + ").";
      }
      return "Too short: the next appointment starts at " + hhmm(at) + ", only "
        + Math.round((clash.top - startRow) * SLOT_MINUTES) + " minutes free.";
    }
    const slots = slotsOf(col);
    for (let r = Math.floor(startRow); r < Math.ceil(endRow) && r < slots.length; r++) {
      if (slots[r].classList.contains("off")) {
        return r <= startRow ? "This time is outside working hours."
          : "Too short: working hours end at " + hhmm(first + r * SLOT_MINUTES) + ".";
      }
    }
    if (endRow > slots.length) return "This runs past the end of the diary's day.";
    return "";
  }

  function updateBookingPreview() {
    const grid = diary();
    if (!grid) return;
    grid.querySelectorAll(".booking-preview").forEach(function (el) { el.remove(); });
    const form = bookingForm();
    if (!form) return;
    const old = form.querySelector("#duration-warning");
    if (old) old.remove();
    const practitioner = form.elements.practitioner && form.elements.practitioner.value;
    const day = form.elements.date && form.elements.date.value;
    const time = form.elements.start_time && form.elements.start_time.value;
    const minutes = bookingMinutes(form);
    if (!practitioner || !day || !/^\d\d:\d\d/.test(time) || !minutes) return;
    const anySlot = grid.querySelector('a.slot[href*="?practitioner=' + practitioner + "&start=" + day + 'T"]');
    if (!anySlot) return;  // that day or practitioner is not on the page
    const col = anySlot.parentElement;
    const first = Number(grid.dataset.firstMinute) || 0;
    const startRow = (Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5)) - first) / SLOT_MINUTES;
    const endRow = startRow + minutes / SLOT_MINUTES;
    if (startRow < 0 || startRow >= slotsOf(col).length) return;

    const reason = tooShortReason(col, startRow, endRow, first);
    const preview = document.createElement("div");
    preview.className = "booking-preview" + (reason ? " too-short" : "");
    preview.setAttribute("aria-hidden", "true");
    preview.style.setProperty("--top", startRow);
    preview.style.setProperty("--len", minutes / SLOT_MINUTES);
    col.appendChild(preview);

    if (reason && form.elements.duration) {
      const warning = document.createElement("small");
      warning.id = "duration-warning";
      warning.className = "slot-warning";
      warning.setAttribute("role", "status");
      warning.textContent = reason;
      form.elements.duration.closest(".field").appendChild(warning);
      form.elements.duration.setAttribute("aria-describedby", "duration-warning");
    } else if (form.elements.duration) {
      form.elements.duration.removeAttribute("aria-describedby");
    }
  }

  ["change", "input"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      const form = event.target.form;
      if (form && form.classList.contains("booking-form")
          && ["practitioner", "date", "start_time", "appointment_type", "duration"].indexOf(event.target.name) >= 0) {
        updateBookingPreview();
      }
    });
  });

  // --- Shortcuts and their help ------------------------------------------------------------------------

  function help() { return document.getElementById("shortcuts"); }

  function newAppointment() {
    const active = document.activeElement;
    let slot = active && active.matches && active.matches(".diary a.slot") ? active : null;
    const item = rovingItem();
    if (!slot && item) {
      slot = item.matches("a.slot") ? item : findInColumn(item.parentElement, rowOf(item), 1, item);
      if (slot && !slot.matches("a.slot")) slot = null;
    }
    if (slot) { slot.click(); return; }
    const url = help().dataset.newUrl;
    if (panel() && window.htmx) window.htmx.ajax("GET", url, { target: "#panel", swap: "innerHTML" });
    else window.location.href = url;
  }

  function followKey(key, fallbackUrl) {
    const link = document.querySelector('main [data-key="' + key + '"]');
    if (link) link.click();
    else if (fallbackUrl) window.location.href = fallbackUrl;
    return !!(link || fallbackUrl);
  }

  document.addEventListener("keydown", function (event) {
    const dialog = help();
    if (!dialog || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const el = event.target;
    if (isTyping(el)) return;
    if (document.querySelector("dialog[open]")) return;  // a dialog's own keys: Escape and its buttons
    const inPanel = panel() && panel().contains(el);
    switch (event.key) {
      case "?":
        dialog.showModal();
        break;
      case "n":
      case "N":
        newAppointment();
        break;
      case "t":
      case "T":
        followKey("t", dialog.dataset.diaryUrl);
        break;
      case "ArrowLeft":
      case "ArrowRight":
        if (isGridItem(el) || inPanel || !followKey(event.key, "")) return;
        break;
      case "/": {
        // The top bar's search box, else this page's own search (Clients), else the Clients page.
        const search = document.getElementById("global-search") || document.querySelector("main input[type=search]");
        if (search) { search.focus(); search.select(); } else window.location.href = dialog.dataset.clientsUrl;
        break;
      }
      default:
        return;
    }
    event.preventDefault();
  });

  // --- Now-line: the current time across today's columns, in the practice's time zone ----------------

  function zoneNow(zone) {
    const parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23",
    }).formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
    return { day: parts.year + "-" + parts.month + "-" + parts.day, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
  }

  function setUpNowLine() {
    const grid = diary();
    const todays = grid ? grid.querySelectorAll(".col.today") : [];
    if (!todays.length || !grid.dataset.zone) return;
    todays.forEach(function (col) {
      const line = document.createElement("div");
      line.className = "now-line";
      line.setAttribute("aria-hidden", "true");
      col.appendChild(line);
    });
    const label = document.createElement("span");
    label.className = "now-label";
    label.setAttribute("aria-hidden", "true");
    const axis = grid.querySelector(".axis");
    if (axis) axis.appendChild(label);

    const rows = slotsOf(todays[0]).length;
    const first = Number(grid.dataset.firstMinute) || 0;
    function place() {
      let now;
      try { now = zoneNow(grid.dataset.zone); } catch (e) { return; }
      const row = (now.minutes - first) / SLOT_MINUTES;
      const shown = now.day === grid.dataset.today && row >= 0 && row <= rows;
      grid.classList.toggle("has-now", shown);
      grid.style.setProperty("--now", row);
      label.textContent = hhmm(now.minutes);
    }
    place();
    // Every minute, on the minute.
    setTimeout(function () { place(); setInterval(place, 60000); }, 60000 - Date.now() % 60000 + 50);
  }

  document.addEventListener("htmx:load", function (event) {
    const el = event.target;
    if (el === document.body || !el.querySelector) return;  // the page itself: set up below
    const grid = el.matches(".diary") ? el : el.querySelector(".diary");
    if (!grid) return;
    drawSlots(grid);
    if (window.htmx) window.htmx.process(grid);  // the new slot links open in the panel, as the grid's links do
    setUpGrid(grid);
  });

  document.addEventListener("DOMContentLoaded", function () {
    const grid = diary();
    if (grid) setUpGrid(grid);
    setUpNowLine();
    watchPanelClose();
    focusPageErrors();
  });
})();
