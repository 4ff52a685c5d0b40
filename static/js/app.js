// Page-wide behaviour: the top bar's menu button on phones, dismissible messages, and a notice when a request fails.
// Both are enhancements: without JavaScript the menu wraps below the top bar and messages simply stay.
(function () {
  "use strict";

  const PHONE = window.matchMedia("(max-width: 760px)");

  function setMenuOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.closest(".topbar").classList.toggle("menu-open", open);
  }

  function setUpMenu() {
    const button = document.querySelector(".topbar .menu-button");
    if (!button) return;
    button.hidden = false;
    button.closest(".topbar").classList.add("has-menu-button");  // the CSS folds the menu only from now on
    setMenuOpen(button, false);
    button.addEventListener("click", function () {
      setMenuOpen(button, button.getAttribute("aria-expanded") !== "true");
    });
    // Growing past phone width shows the menu in the bar again: forget that it was open.
    PHONE.addEventListener("change", function () { setMenuOpen(button, false); });
  }

  // Escape closes an open menu and gives focus back to its button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const button = document.querySelector(".topbar .menu-button[aria-expanded=true]");
    if (button) {
      setMenuOpen(button, false);
      button.focus();
    }
  });

  // Each message gets a close button. Focus goes to the next message's button, or to the page's content.
  function addCloseButtons(root) {
    root.querySelectorAll(".msg").forEach(function (message) {
      if (message.querySelector(":scope > .msg-close")) return;
      const close = document.createElement("button");
      close.type = "button";
      close.className = "msg-close";
      close.setAttribute("aria-label", "Dismiss message");
      close.textContent = "×";
      message.classList.add("dismissible");
      message.append(close);
    });
  }

  document.addEventListener("click", function (event) {
    const close = event.target.closest(".msg-close");
    if (!close) return;
    const message = close.closest(".msg");
    const box = message.parentElement;
    const next = message.nextElementSibling || message.previousElementSibling;
    const panel = message.closest("#panel");
    message.remove();
    if (next && next.querySelector(".msg-close")) {
      next.querySelector(".msg-close").focus();
      return;
    }
    if (box && !box.querySelector(".msg")) box.remove();
    const landing = (panel && panel.querySelector("h2")) || document.getElementById("main");
    if (landing) {
      landing.setAttribute("tabindex", "-1");
      landing.focus({ preventScroll: true });
    }
  });

  // A table wider than its box scrolls sideways: make that box reachable by keyboard (arrow keys scroll it).
  function makeScrollersFocusable(root) {
    root.querySelectorAll(".table-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "Table, scrolls sideways");
      } else if (box.hasAttribute("tabindex")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  let resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { makeScrollersFocusable(document); }, 150);
  });

  document.addEventListener("DOMContentLoaded", function () {
    setUpMenu();
    addCloseButtons(document);
    makeScrollersFocusable(document);
    // On a phone the Options menu is one row that scrolls sideways: show the current section.
    const current = document.querySelector(".options-menu [aria-current=page]");
    if (current && PHONE.matches) current.scrollIntoView({ block: "nearest", inline: "center" });
  });
  // A request htmx could not complete (a server error, no answer, too slow) leaves the page as it was: say so where
  // messages show, rather than leave a click that seems to have done nothing. A 4xx is a refusal the server explains:
  // htmx swaps it in (base.html's responseHandling).
  // - Where: under what made the request when that is in the side panel (on a phone the panel covers the page);
  //   else above the page: a background poll, the panel's own reopening, or an element gone meanwhile.
  // - One notice at a time. The same notice in the same place is left as it is (a search failing at each keystroke
  //   is not announced again), and a background poll never replaces the notice of something the user did.
  // - What: a GET, or an element marked data-request-reads (searches and previews sent by POST), changed nothing;
  //   anything else may or may not have been saved.
  const NOT_SAVED = " Nothing was changed. Try again in a moment.";
  const MAYBE_SAVED = " It may or may not have been saved: reload the page to see, then try again if it is not there.";

  function showRequestProblem(event, problem) {
    const config = event.detail.requestConfig;
    const source = event.target;
    const reads = (config && config.verb && config.verb.toLowerCase() === "get") ||
      source.hasAttribute("data-request-reads");
    const text = problem + (reads ? NOT_SAVED : MAYBE_SAVED);
    const background = /\b(load|every)\b/.test(source.getAttribute("hx-trigger") || "");
    const main = document.getElementById("main");
    const inPanel = !background && source.isConnected && source.id !== "panel" && source.closest("#panel");
    const old = document.getElementById("request-problem");
    if (old) {
      if (background && old.dataset.background !== "yes") return;
      const here = inPanel
        ? (source.tagName === "FORM" ? old.parentElement === source : old.previousElementSibling === source)
        : old.nextElementSibling === main;
      if (here && old.querySelector(".msg").firstChild.textContent === text) return;
      old.remove();
    }
    const message = document.createElement("div");
    message.className = "msg msg-error";
    message.textContent = text;
    const box = document.createElement("div");
    box.id = "request-problem";
    box.setAttribute("role", "alert");
    box.dataset.background = background ? "yes" : "no";
    box.append(message);
    if (inPanel) {
      box.className = "panel-messages";
      if (source.tagName === "FORM") source.append(box); else source.after(box);
      box.scrollIntoView({ block: "nearest" });
    } else {
      box.className = "messages";
      if (main) main.before(box); else document.body.prepend(box);
    }
    addCloseButtons(box);
  }

  function onRequestError(event) {
    if (event.target !== event.currentTarget) return;  // told once, by the element that made the request
    if (event.type === "htmx:responseError") {
      const status = event.detail.xhr.status;
      if (status >= 400 && status < 500) return;
      showRequestProblem(event, "The server could not answer (error " + status + ").");
    } else if (event.type === "htmx:sendError") {
      showRequestProblem(event, "The app could not be reached: check the connection.");
    } else {
      showRequestProblem(event, "The server took too long to answer.");
    }
  }
  // Listened for on the element that makes the request, not on the document: htmx tells only that element, and an
  // element no longer on the page (the panel closed during a save) passes nothing up to the document.
  document.addEventListener("htmx:beforeRequest", function (event) {
    ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (type) {
      event.target.addEventListener(type, onRequestError);  // the same function: added once however many requests
    });
  });
  // Messages that htmx brings into the panel.
  document.addEventListener("htmx:load", function (event) {
    if (!event.detail.elt.querySelectorAll) return;
    addCloseButtons(event.detail.elt);
    makeScrollersFocusable(event.detail.elt);
  });
})();
