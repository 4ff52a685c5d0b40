// Page-wide behaviour: the top bar's menu button on phones and dismissible messages.
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
  // Messages that htmx brings into the panel.
  document.addEventListener("htmx:load", function (event) {
    if (!event.detail.elt.querySelectorAll) return;
    addCloseButtons(event.detail.elt);
    makeScrollersFocusable(event.detail.elt);
  });
})();
