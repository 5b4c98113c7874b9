// Reading progress: the "Mark as read" toggle at the end of every article, and the
// "N of M read" counters of each chapter and of the whole site (article pages, chapter
// indexes, the home page's learning path).
//
// The structure (chapters, their articles' URLs, titles and reading times) comes from
// the build: hooks/reading.py embeds it in those pages as JSON in the
// data-gu-structure attribute of <div id="gu-reading-data" hidden>, with the page's
// `base`, its relative path to the site root. (Not a <script type="application/json">:
// instant navigation re-creates inline scripts without their type.) URLs are relative to the site root, so the site
// works under any sub-path (a GitHub Pages project site included).
//
// What was read is kept in this browser only, in localStorage under
//   "groundup.read.v1:" + the site root's path (e.g. "groundup.read.v1:/groundup/"),
// a JSON object mapping an article's URL relative to the root
// ("tokenization/why-tokens/") to the time it was marked read (ms since 1970).
// Nothing leaves the browser.
//
// Material's instant navigation swaps the page without reloading this script:
// document$ emits on every page, first load included, and `refresh` is idempotent
// (each button gets its listener once). The `storage` event keeps other tabs in step.
(function () {
  "use strict";

  var KEY_PREFIX = "groundup.read.v1:";
  var script = document.currentScript;
  // This file is <root>/javascripts/progress.js: its URL fixes the site root for good.
  var root = script && script.src ? new URL("../", script.src) : null;

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function structure() {
    var el = document.getElementById("gu-reading-data");
    if (!el) return null;
    try {
      return JSON.parse(el.getAttribute("data-gu-structure"));
    } catch (e) {
      return null;
    }
  }

  function storageKey(data) {
    return KEY_PREFIX + (root || new URL(data.base, location.href)).pathname;
  }

  function load(key) {
    try {
      var value = JSON.parse(localStorage.getItem(key) || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch (e) {
      return {};
    }
  }

  function save(key, read) {
    try {
      localStorage.setItem(key, JSON.stringify(read));
    } catch (e) {
      // storage blocked or full: the toggle still works until the page is left
    }
  }

  function render(data, read) {
    var totals = { "*": [0, 0] };
    var chapters = {};
    data.chapters.forEach(function (chapter) {
      var done = chapter.articles.filter(function (a) { return read[a.url]; }).length;
      totals[chapter.key] = [done, chapter.articles.length];
      totals["*"][0] += done;
      totals["*"][1] += chapter.articles.length;
      chapters[chapter.key] = chapter;
    });

    each("[data-gu-count]", function (el) {
      var t = totals[el.getAttribute("data-gu-count")];
      if (t) el.textContent = t[0] + " of " + t[1] + " read";
    });
    each("[data-gu-bar]", function (el) {
      var t = totals[el.getAttribute("data-gu-bar")];
      if (t) el.style.width = (t[1] ? (100 * t[0]) / t[1] : 0) + "%";
    });
    each("[data-gu-article]", function (el) {
      el.classList.toggle("gu-is-read", Boolean(read[el.getAttribute("data-gu-article")]));
    });
    each("[data-gu-toggle]", function (button) {
      var isRead = Boolean(read[button.getAttribute("data-gu-toggle")]);
      button.setAttribute("aria-pressed", isRead ? "true" : "false");
    });
    each("[data-gu-chapter]", function (el) {
      var t = totals[el.getAttribute("data-gu-chapter")];
      el.classList.toggle("gu-is-done", Boolean(t && t[1] && t[0] === t[1]));
    });
    each("[data-gu-next]", function (link) {
      var chapter = chapters[link.getAttribute("data-gu-next")];
      if (!chapter || !chapter.articles.length) return;
      var next = chapter.articles.filter(function (a) { return !read[a.url]; })[0];
      var started = chapter.articles.some(function (a) { return read[a.url]; });
      if (next) {
        link.textContent = (started ? "Continue with " : "Start with ") + next.title;
        link.setAttribute("href", data.base + next.url);
      } else {
        link.textContent = "Chapter read: review it";
        link.setAttribute("href", data.base + chapter.url);
      }
      link.classList.toggle("gu-next--done", !next);
    });
    each("[data-gu-js]", function (el) {
      el.hidden = false;
    });
  }

  function refresh() {
    var data = structure();
    if (!data) return;
    render(data, load(storageKey(data)));
    each("[data-gu-toggle]", function (button) {
      if (button.getAttribute("data-gu-bound")) return;
      button.setAttribute("data-gu-bound", "1");
      button.addEventListener("click", function () {
        var current = structure();
        if (!current) return;
        var key = storageKey(current);
        var read = load(key);
        var url = button.getAttribute("data-gu-toggle");
        if (read[url]) delete read[url];
        else read[url] = Date.now();
        save(key, read);
        render(current, read);
      });
    });
  }

  window.addEventListener("storage", function (event) {
    if (event.key === null || event.key.indexOf(KEY_PREFIX) === 0) refresh();
  });

  if (typeof document$ !== "undefined" && document$.subscribe) {
    document$.subscribe(refresh);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
