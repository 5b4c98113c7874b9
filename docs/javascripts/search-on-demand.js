/* Load the search index when the reader starts to search, not with every page.
 *
 * Material for MkDocs requests search/search_index.json (the text of the whole site)
 * on every page load. Most readers never search, and the index grows with each
 * chapter, so this script (loaded in <head>, before Material's bundle) holds that one
 * request back until the reader shows an intent to search: pointing at or focusing
 * the search box, opening search (click, or the f, s, / shortcuts), or following a
 * search result link (?h=..., for search.highlight). Everything else is untouched.
 * tests/browser/test_browser_site.py checks that pages do not fetch the index on load and
 * that search still works.
 */
(function () {
  "use strict";
  var INDEX = /\/search\/search_index\.json$/;
  var released = new URLSearchParams(location.search).has("h");
  var held = [];

  function release() {
    if (released) return;
    released = true;
    held.splice(0).forEach(function (send) { send(); });
  }

  var open = XMLHttpRequest.prototype.open;
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    try {
      this.__guSearchIndex = INDEX.test(new URL(String(url), location.href).pathname);
    } catch (e) {
      this.__guSearchIndex = false;
    }
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    var xhr = this, args = arguments;
    if (xhr.__guSearchIndex && !released) {
      held.push(function () { send.apply(xhr, args); });
      return;
    }
    return send.apply(xhr, args);
  };

  function inSearch(target) {
    return target instanceof Element &&
      !!target.closest('.md-search, label[for="__search"], #__search');
  }
  ["pointerover", "touchstart", "focusin"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (inSearch(event.target)) release();
    }, { capture: true, passive: true });
  });
  document.addEventListener("change", function (event) {
    if (event.target instanceof Element && event.target.id === "__search") release();
  }, true);
})();
