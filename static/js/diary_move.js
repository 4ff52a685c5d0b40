// Moving and resizing appointments on the diary: drag a block (or its bottom edge) with a mouse, a pen or a
// finger (touch: press and hold first, so a swipe still scrolls), or press M on a focused block and use the
// arrow keys. Nothing is saved here: the server's move preview says what the move would do (a clash, working
// hours, R7/R8 for telehealth) in a dialog whose Save posts the ordinary move form. Undo counts down here too.
(function () {
  "use strict";

  const STEP = 15;  // minutes per grid row
  const DRAG_THRESHOLD = 5;  // pixels a mouse moves before a press becomes a drag rather than a click
  const LONG_PRESS_MS = 350;
  const SCROLL_KEY = "diary-move-scroll";

  let pending = null;  // a press on a block that may become a drag
  let move = null;  // the move under way
  let suppressClickUntil = 0;

  function hhmm(minutes) {
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60);
  }

  function grid() {
    return document.querySelector(".diary[data-first-minute]");
  }

  // A block the user may move on the grid: in a column of theirs, within that column's day (it may end at
  // midnight). One across midnight (span-days) is moved from its panel, whose form takes any date and time.
  const MOVABLE = ".col[data-droppable] > .appt:not(.span-days)";

  function movableBlock(el) {
    return el && el.closest ? el.closest(MOVABLE) : null;
  }

  // The block of an appointment, by id: its link is the appointment's URL.
  function blockOf(id) {
    return document.querySelector('.diary .appt[href$="/' + id + '/"]');
  }

  function idOf(block) {
    return block.getAttribute("href").split("/").slice(-2)[0];
  }

  // Columns a block may go to: the user's to book in, and shown (a phone may show one practitioner at a time).
  function droppableColumns() {
    return Array.from(document.querySelectorAll(".diary .col[data-droppable]")).filter(function (column) {
      return column.getClientRects().length > 0;
    });
  }

  function announce(text) {
    const status = document.getElementById("move-status");
    if (status) status.textContent = text;
  }

  // A move: the block, the column it would go to, and how many rows its start and end have shifted.
  function begin(block, mode, keyboard) {
    const diary = grid();
    if (!diary || movableBlock(block) !== block) return false;
    const column = block.closest(".col");
    const rows = Number(getComputedStyle(diary).getPropertyValue("--rows")) || 0;
    const first = Number(diary.dataset.firstMinute);
    // Its times from its place on the grid (in rows from the first): an appointment ending at midnight ends at 24:00.
    const start = first + Math.round(parseFloat(block.style.getPropertyValue("--top")) * STEP);
    const end = start + Math.round(parseFloat(block.style.getPropertyValue("--len")) * STEP);
    const ghost = document.createElement("div");
    ghost.className = "move-ghost";
    ghost.setAttribute("aria-hidden", "true");
    move = {
      block: block, mode: mode, keyboard: keyboard, diary: diary, first: first, last: first + rows * STEP,
      column: column, start: start, end: end, startShift: 0, endShift: 0, ghost: ghost,
      scrollTop: diary.scrollTop, confirming: false,
    };
    block.classList.add("moving");
    render();
    return true;
  }

  // Where the move would put the appointment: start and end in minutes, kept inside the grid, at least one
  // step long (or as long as it was, if shorter).
  function proposal() {
    const length = move.end - move.start;
    const shortest = Math.min(length, STEP);
    let start = move.start + STEP * move.startShift;
    let end = move.end + STEP * move.endShift;
    if (end - start < shortest) end = start + shortest;
    if (start < move.first) { end += move.first - start; start = move.first; }
    if (end > move.last) { start -= end - move.last; end = move.last; }
    return { start: Math.max(start, move.first), end: end, column: move.column };
  }

  function describe(target) {
    return hhmm(target.start) + "–" + hhmm(target.end) + ", " + target.column.getAttribute("aria-label");
  }

  function render() {
    const target = proposal();
    move.ghost.style.setProperty("--top", String((target.start - move.first) / STEP));
    move.ghost.style.setProperty("--len", String((target.end - target.start) / STEP));
    move.ghost.textContent = describe(target);
    if (move.ghost.parentNode !== target.column) target.column.appendChild(move.ghost);
    if (move.keyboard) {
      announce("Moving to " + describe(target) + ". Arrow keys move it, Shift with up or down changes its " +
               "length, Enter checks and saves, Escape cancels.");
    }
  }

  function changed(target) {
    return target.start !== move.start || target.end !== move.end || target.column !== move.block.closest(".col");
  }

  function end(restoreFocus) {
    if (!move) return;
    const block = move.block;
    move.ghost.remove();
    block.classList.remove("moving");
    document.body.classList.remove("dragging-appt");
    move = null;
    if (restoreFocus) block.focus({ preventScroll: true });
  }

  function dialog() {
    return document.getElementById("move-dialog");
  }

  // Ask the server what the move would do and show its answer, with Save and Don't move, in the dialog.
  function confirmMove() {
    const target = proposal();
    if (!changed(target)) {
      announce("Not moved.");
      end(move.keyboard);
      return;
    }
    move.confirming = true;
    const params = new URLSearchParams({
      practitioner: target.column.dataset.practitioner, date: target.column.dataset.date,
      start_time: hhmm(target.start), duration: String(target.end - target.start), confirm: "1",
      next: window.location.pathname + window.location.search,
    });
    const current = move;
    fetch(move.block.getAttribute("href") + "move/preview/?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("The move could not be checked (" + response.status + ").");
        return response.text();
      })
      .then(function (html) {
        if (move !== current) return;
        const box = dialog();
        box.innerHTML = html;
        box.removeAttribute("aria-label");
        box.setAttribute("aria-labelledby", "move-dialog-title");
        box.showModal();
        const save = box.querySelector("[data-move-save]");
        (save || box.querySelector("button")).focus();
      })
      .catch(function (error) {
        if (move !== current) return;
        const box = dialog();
        const text = document.createElement("p");
        text.className = "move-list move-refused";
        text.textContent = error.message + " Nothing was changed.";
        const close = document.createElement("form");
        close.method = "dialog";
        close.innerHTML = '<button class="btn" type="submit">Close</button>';
        box.replaceChildren(text, close);
        box.removeAttribute("aria-labelledby");
        box.setAttribute("aria-label", "Move");
        box.showModal();
        close.querySelector("button").focus();
      });
  }

  // Dragging --------------------------------------------------------------------------------------------------

  function startDrag(event) {
    const press = pending;
    pending = null;
    if (!begin(press.block, press.mode, false)) return;
    move.pointerX = press.x;
    move.pointerY = press.y;
    document.body.classList.add("dragging-appt");
    try { press.block.setPointerCapture(press.pointerId); } catch (e) { /* the pointer is gone already */ }
    if (event) dragTo(event);
  }

  function columnAt(x) {
    return droppableColumns().find(function (column) {
      const rect = column.getBoundingClientRect();
      return x >= rect.left && x < rect.right;
    });
  }

  function dragTo(event) {
    const diary = move.diary;
    const box = diary.getBoundingClientRect();
    // Near an edge the grid scrolls, so a block can be dragged beyond what is in view (the column headings
    // and the time axis stay in place over the top and left edges).
    if (event.clientY > box.bottom - 28) diary.scrollTop += 12;
    else if (event.clientY < box.top + 60) diary.scrollTop -= 12;
    if (event.clientX > box.right - 28) diary.scrollLeft += 12;
    else if (event.clientX < box.left + 60) diary.scrollLeft -= 12;
    const rowHeight = move.block.closest(".col").getBoundingClientRect().height /
      ((move.last - move.first) / STEP);
    const rows = Math.round((event.clientY - move.pointerY + diary.scrollTop - move.scrollTop) / rowHeight);
    move.endShift = rows;
    move.startShift = move.mode === "resize" ? 0 : rows;
    if (move.mode === "move") move.column = columnAt(event.clientX) || move.column;
    render();
  }

  document.addEventListener("pointerdown", function (event) {
    if (move && move.keyboard && !move.confirming) end(false);  // a click elsewhere ends a keyboard move
    if (move || pending || event.button !== 0 || !event.isPrimary) return;
    const block = movableBlock(event.target);
    if (!block) return;
    const rect = block.getBoundingClientRect();
    const edge = Math.min(event.pointerType === "mouse" ? 8 : 14, rect.height / 3);
    pending = {
      block: block, mode: event.clientY >= rect.bottom - edge ? "resize" : "move",
      x: event.clientX, y: event.clientY, pointerId: event.pointerId, mouse: event.pointerType === "mouse",
      timer: null,
    };
    if (!pending.mouse) pending.timer = window.setTimeout(function () { startDrag(null); }, LONG_PRESS_MS);
  });

  document.addEventListener("pointermove", function (event) {
    if (pending && event.pointerId === pending.pointerId) {
      const distance = Math.hypot(event.clientX - pending.x, event.clientY - pending.y);
      if (pending.mouse && distance > DRAG_THRESHOLD) startDrag(event);
      else if (!pending.mouse && distance > 10) cancelPress();  // a swipe: let the page scroll
    } else if (move && !move.keyboard && !move.confirming) {
      dragTo(event);
    }
  });

  function cancelPress() {
    if (pending && pending.timer) window.clearTimeout(pending.timer);
    pending = null;
  }

  document.addEventListener("pointerup", function () {
    cancelPress();
    if (move && !move.keyboard && !move.confirming) {
      suppressClickUntil = Date.now() + 500;  // the click that ends a drag must not open the appointment
      confirmMove();
    }
  });

  document.addEventListener("pointercancel", function () {
    cancelPress();
    if (move && !move.keyboard && !move.confirming) end(false);
  });

  // Once a touch drag has begun, the finger moves the block, not the page.
  document.addEventListener("touchmove", function (event) {
    if (move && !move.keyboard) event.preventDefault();
  }, { passive: false });

  // The click that ends a drag (if the browser sends one) is eaten, once: the next one is a real click.
  window.addEventListener("click", function (event) {
    if (Date.now() < suppressClickUntil && event.target.closest(".diary")) {
      suppressClickUntil = 0;
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // A link's own drag (to the bookmarks bar) and the long-press menu would take over the gesture.
  document.addEventListener("dragstart", function (event) {
    if (movableBlock(event.target)) event.preventDefault();
  });
  document.addEventListener("contextmenu", function (event) {
    if (pending || (move && !move.keyboard)) event.preventDefault();
  });

  // Keyboard -------------------------------------------------------------------------------------------------

  function startKeyboardMove(block) {
    if (move || !begin(block, "move", true)) return;
    block.focus({ preventScroll: true });
    block.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function stepColumn(direction) {
    const columns = droppableColumns();
    const next = columns[columns.indexOf(move.column) + direction];
    if (next) move.column = next;
  }

  // Capture phase: while moving, the arrows belong to the move, not to the grid's own arrow-key navigation.
  window.addEventListener("keydown", function (event) {
    const box = dialog();
    if (box && box.open) {
      // Escape closes the dialog only (the browser does that), not the panel or anything else listening.
      if (event.key === "Escape") event.stopPropagation();
      return;
    }
    if (move && move.keyboard && !move.confirming) {
      const keys = {
        ArrowUp: function () { if (!event.shiftKey) move.startShift -= 1; move.endShift -= 1; },
        ArrowDown: function () { if (!event.shiftKey) move.startShift += 1; move.endShift += 1; },
        ArrowLeft: function () { stepColumn(-1); },
        ArrowRight: function () { stepColumn(1); },
      };
      if (keys[event.key]) {
        keys[event.key]();
        render();
      } else if (event.key === "Enter") {
        confirmMove();
      } else if (event.key === "Escape") {
        announce("Move cancelled.");
        end(true);
      } else if (event.key === "Tab") {
        end(false);
        return;
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    const block = document.activeElement;
    if ((event.key === "m" || event.key === "M") && !event.ctrlKey && !event.metaKey && !event.altKey &&
        block && block.matches && block.matches(MOVABLE)) {
      event.preventDefault();
      event.stopPropagation();
      startKeyboardMove(block);
    }
  }, true);

  // "Move on the diary" in the appointment panel: close the panel and move the block by keyboard.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-move-start]");
    if (!button) return;
    const block = movableBlock(blockOf(button.dataset.moveStart));
    if (!block) return;
    const panel = document.getElementById("panel");
    if (panel) panel.innerHTML = "";
    startKeyboardMove(block);
  });

  // The panel's Move button only makes sense when the appointment is on the grid behind it.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.target || event.target.id !== "panel") return;
    event.target.querySelectorAll("[data-move-start]").forEach(function (button) {
      if (movableBlock(blockOf(button.dataset.moveStart))) button.closest(".move-start").hidden = false;
    });
  });

  // The dialog: Cancel (or Escape) puts the block back; Save posts the move form and reloads the diary.
  document.addEventListener("DOMContentLoaded", function () {
    const box = dialog();
    if (box) {
      box.addEventListener("close", function () {
        if (box.returnValue !== "saved") {
          if (move && move.keyboard) announce("Move cancelled.");
          end(move ? move.keyboard : false);
        }
        box.returnValue = "";
      });
    }
    restoreScroll();
    startUndoCountdowns();
  });

  // Saving or undoing reloads the page: keep the grid scrolled where it was.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches(".move-confirm, .undo-form") || event.submitter && event.submitter.formMethod === "dialog") {
      return;
    }
    const box = dialog();
    if (box && box.contains(form)) box.returnValue = "saved";
    const diary = grid();
    if (diary) {
      // A keyboard move keeps the focus on the appointment it moved, for the next key (Ctrl+Z, or M again).
      const focus = move && move.keyboard ? idOf(move.block) : "";
      window.sessionStorage.setItem(SCROLL_KEY, JSON.stringify({
        top: diary.scrollTop, left: diary.scrollLeft, path: window.location.pathname, focus: focus,
      }));
    }
  });

  function restoreScroll() {
    const saved = window.sessionStorage.getItem(SCROLL_KEY);
    window.sessionStorage.removeItem(SCROLL_KEY);
    const diary = grid();
    if (!saved || !diary) return;
    try {
      const where = JSON.parse(saved);
      if (where.path !== window.location.pathname) return;
      diary.scrollTop = where.top;
      diary.scrollLeft = where.left;
      const block = where.focus && blockOf(where.focus);
      if (block) block.focus({ preventScroll: true });
    } catch (e) { /* an unreadable value: the diary opens where it usually does */ }
  }

  // Ctrl+Z (Cmd+Z on a Mac) presses the Undo button while it is shown, unless the focus is in a text field.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "z" || !(event.ctrlKey || event.metaKey) || event.shiftKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
    const button = document.querySelector(".undo-form button");
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  // Undo is offered for a few seconds: the button counts down, then goes (the server refuses it soon after).
  function startUndoCountdowns() {
    document.querySelectorAll(".undo-form[data-undo-seconds]").forEach(function (form) {
      const button = form.querySelector("button");
      let left = Number(form.dataset.undoSeconds);
      const tick = function () {
        if (left <= 0) {
          form.remove();
          return;
        }
        button.textContent = "Undo (" + left + " s)";
        button.setAttribute("aria-keyshortcuts", "Control+Z Meta+Z");
        button.title = "Ctrl+Z";
        left -= 1;
        window.setTimeout(tick, 1000);
      };
      tick();
    });
  }
})();
