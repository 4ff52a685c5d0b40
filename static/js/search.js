// The top bar's client search: htmx fetches matches as you type into a popup; this makes the popup a combobox
// listbox (ARIA 1.2): focus stays in the box, ↓/↑ move through the matches, Enter opens the highlighted client,
// Escape closes. Without a highlighted match, Enter submits the form to the Clients page (also without JS).
(function () {
  "use strict";

  const ACTIVE = "active";

  function parts(input) {
    const popup = document.getElementById("global-search-results");
    return { popup: popup, options: popup ? Array.from(popup.querySelectorAll("[role=option]")) : [] };
  }

  function highlight(input, options, index) {
    options.forEach(function (option, i) {
      option.classList.toggle(ACTIVE, i === index);
      option.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function setOpen(input, popup, open) {
    popup.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    const listbox = popup.querySelector("[role=listbox]");
    if (open && listbox) input.setAttribute("aria-controls", listbox.id);
    else input.removeAttribute("aria-controls");
    if (!open) input.removeAttribute("aria-activedescendant");
  }

  // New results arrived: show them (or hide an empty popup), nothing highlighted yet.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "global-search-results") return;
    const input = document.getElementById("global-search");
    const popup = event.detail.target;
    setOpen(input, popup, popup.innerHTML.trim() !== "" && input.value.trim() !== "");
    highlight(input, parts(input).options, -1);
  });

  document.addEventListener("keydown", function (event) {
    const input = event.target;
    if (!input || input.id !== "global-search") return;
    const found = parts(input);
    if (!found.popup) return;
    const current = found.options.findIndex(function (option) { return option.classList.contains(ACTIVE); });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!found.options.length) return;
      event.preventDefault();
      if (found.popup.hidden) setOpen(input, found.popup, true);
      const step = event.key === "ArrowDown" ? 1 : -1;
      const next = current < 0 ? (step > 0 ? 0 : found.options.length - 1)
        : (current + step + found.options.length) % found.options.length;
      highlight(input, found.options, next);
    } else if (event.key === "Enter" && current >= 0 && !found.popup.hidden) {
      event.preventDefault();
      window.location.assign(found.options[current].href);
    } else if (event.key === "Escape" && !found.popup.hidden) {
      event.preventDefault();
      event.stopPropagation();  // closes the popup only, not the diary's side panel as well
      setOpen(input, found.popup, false);
    }
  }, true);

  // Typing again reopens the last results until the new ones come; clearing the box closes them.
  document.addEventListener("input", function (event) {
    if (event.target.id !== "global-search") return;
    const popup = parts(event.target).popup;
    if (popup && !event.target.value.trim()) {
      popup.innerHTML = "";
      setOpen(event.target, popup, false);
    }
  });

  // A click or focus anywhere outside the search closes the popup.
  function closeIfOutside(event) {
    const form = document.querySelector("[data-global-search]");
    const input = document.getElementById("global-search");
    const popup = document.getElementById("global-search-results");
    if (form && popup && !popup.hidden && !form.contains(event.target)) setOpen(input, popup, false);
  }
  document.addEventListener("click", closeIfOutside);
  document.addEventListener("focusin", closeIfOutside);

  // Focus returning to the box shows the results that are still there.
  document.addEventListener("focusin", function (event) {
    if (event.target.id !== "global-search") return;
    const popup = parts(event.target).popup;
    if (popup && popup.innerHTML.trim() && event.target.value.trim()) setOpen(event.target, popup, true);
  });
})();
