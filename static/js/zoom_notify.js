// Opt-in browser notification when a practitioner's own telehealth client enters the Zoom waiting room (issue 12).
// Driven by the diary's existing live poll (#zoom-live): after each htmx settle the page is scanned for
// "Client waiting" badges in the practitioner's own column; each waiting episode (block + since) notifies once.
// No request of its own, and no client name in the notification (it may show on a locked screen).
(function () {
  "use strict";

  const KEY = "zoomNotifyWaiting";  // localStorage: "on" in this browser once the practitioner opted in
  const seen = new Set();  // "zb<appointment id>|Client waiting since 10:02" already shown (or there on load)
  let primed = false;

  function button() { return document.getElementById("zoom-notify"); }
  function enabled() {
    return window.localStorage.getItem(KEY) === "on" && window.Notification && Notification.permission === "granted";
  }

  function render() {
    const btn = button();
    if (!btn) return;
    const on = enabled();
    btn.setAttribute("aria-pressed", on ? "true" : "false");
    btn.textContent = on ? "Waiting-room notifications on" : "Notify me when my client waits";
    if (window.Notification && Notification.permission === "denied") {
      btn.disabled = true;
      btn.title = "Notifications are blocked for this site in the browser's settings.";
    }
  }

  function waitingBadges(practitioner) {
    const found = [];
    document.querySelectorAll('.col[data-practitioner="' + practitioner + '"] .badge.waiting').forEach(function (badge) {
      const holder = badge.closest(".badges");
      if (holder && holder.id) found.push({ key: holder.id + "|" + badge.textContent.trim(), text: badge.textContent.trim() });
    });
    return found;
  }

  function scan() {
    const btn = button();
    if (!btn) return;
    const badges = waitingBadges(btn.dataset.practitioner);
    const notify = primed && enabled();
    badges.forEach(function (badge) {
      if (seen.has(badge.key)) return;
      seen.add(badge.key);
      if (notify) {
        new Notification("Your telehealth client is waiting", {
          body: badge.text + " in the Zoom waiting room.", tag: badge.key,
        });
      }
    });
    primed = true;  // what was already waiting when the page opened is on screen: no notification for it
  }

  document.addEventListener("click", function (event) {
    const btn = event.target.closest && event.target.closest("#zoom-notify");
    if (!btn) return;
    if (enabled()) {
      window.localStorage.removeItem(KEY);
      render();
      return;
    }
    Notification.requestPermission().then(function (permission) {
      if (permission === "granted") window.localStorage.setItem(KEY, "on");
      render();
    });
  });

  document.addEventListener("htmx:afterSettle", scan);
  document.addEventListener("DOMContentLoaded", function () {
    const btn = button();
    if (!btn || !window.Notification) return;  // no Notification API: the button stays hidden
    btn.hidden = false;
    render();
    scan();
  });
})();
