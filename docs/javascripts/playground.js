// The sampling playground ("Sampling and decoding"): the site model's next-token
// logits for a few prompts ship inline, as JSON in the widget's data-playground
// attribute (code/groundup/pages/generating_text/sampling/playground.py); moving a slider
// re-applies the processors and redraws the bars.
//
// The order and the rules are SamplingSettings.process's (groundup.inference):
// temperature, then top-k (ids tied with the k-th logit stay), then top-p (sort
// ascending, drop an id while the mass at and below it is <= 1 - top_p, always keep
// the most likely). Ties in that sort are broken by id, smaller id first. Each filter
// is skipped when it is off: temperature 1, top-k at its highest position, top-p 1.
//
// Material's document$ fires on the first load and after every instant navigation;
// each widget is wired once (data-playground-ready).
(function () {
  "use strict";

  // logits / temperature, then top-k, then top-p: the probabilities sampling would use
  // (0 for a removed id) and, for reference, the tempered ones before any filter
  function process(logits, ascending, temperature, topK, topP) {
    var V = logits.length;
    var z = new Float64Array(V);
    for (var i = 0; i < V; i++) z[i] = temperature === 1 ? logits[i] : logits[i] / temperature;
    var kept = new Uint8Array(V).fill(1);

    if (topK !== null && topK < V) {  // top-k: the k-th largest logit is the bar
      var kth = z[ascending[V - topK]];
      for (var j = 0; j < V; j++) if (z[j] < kth) kept[j] = 0;
    }
    if (topP !== 1) {  // top-p over what top-k left, in ascending order
      var p = softmax(z, kept);
      var below = 0;
      var limit = 1 - topP;
      for (var r = 0; r < V - 1; r++) {  // r = V - 1, the most likely id, always stays
        var id = ascending[r];
        below += p[id];
        if (below <= limit) kept[id] = 0;
      }
    }
    return { before: softmax(z, null), after: softmax(z, kept), kept: kept };
  }

  function softmax(z, kept) {
    var V = z.length, max = -Infinity, sum = 0, out = new Float64Array(V);
    for (var i = 0; i < V; i++) if ((!kept || kept[i]) && z[i] > max) max = z[i];
    for (var j = 0; j < V; j++) {
      out[j] = !kept || kept[j] ? Math.exp(z[j] - max) : 0;
      sum += out[j];
    }
    for (var k = 0; k < V; k++) out[k] /= sum;
    return out;
  }

  function percent(p) {
    return p >= 0.001 ? (100 * p).toFixed(1) + "%" : p > 0 ? "<0.1%" : "0%";
  }

  function setup(widget) {
    var data = JSON.parse(widget.getAttribute("data-playground"));
    var control = function (name) { return widget.querySelector('[data-control="' + name + '"]'); };
    var prompt = control("prompt"), temp = control("temperature");
    var topK = control("top-k"), topP = control("top-p");
    var summary = widget.querySelector(".gu-playground__summary");
    var list = widget.querySelector(".gu-playground__bars");
    var sorted = data.prompts.map(function (entry) {  // ids by ascending logit, ties by id
      var ids = entry.logits.map(function (_, i) { return i; });
      return ids.sort(function (a, b) { return entry.logits[a] - entry.logits[b] || a - b; });
    });

    function draw() {
      var n = Number(prompt.value), entry = data.prompts[n];
      var t = Number(temp.value), p = Number(topP.value);
      var k = topK.value === topK.max ? null : Number(topK.value);
      widget.querySelector('[data-output="temperature"]').textContent = t.toFixed(2);
      widget.querySelector('[data-output="top-k"]').textContent = k === null ? "off" : String(k);
      widget.querySelector('[data-output="top-p"]').textContent = p === 1 ? "off" : p.toFixed(2);

      var out = process(entry.logits, sorted[n], t, k, p);
      var count = 0, mass = 0;
      for (var i = 0; i < out.kept.length; i++) if (out.kept[i]) { count++; mass += out.before[i]; }
      summary.textContent = "Kept " + count + " of " + data.vocab_size + " tokens, " +
        percent(mass) + " of the probability at this temperature; the bars show the " +
        data.view + " most likely.";
      summary.setAttribute("data-kept-count", String(count));

      var widest = out.after[entry.top[0]] || 1;
      var rows = entry.top.map(function (id, r) {
        var row = document.createElement("li");
        var isKept = out.kept[id] === 1;
        row.className = "gu-playground__row" + (isKept ? " is-kept" : " is-cut");
        row.setAttribute("data-token-id", String(id));
        row.setAttribute("data-p", String(out.after[id]));
        row.setAttribute("data-p-before", String(out.before[id]));
        row.setAttribute("data-kept", String(isKept));
        var label = document.createElement("code");
        label.className = "gu-playground__token";
        label.textContent = entry.labels[r];
        var track = document.createElement("span");
        track.className = "gu-playground__track";
        var ghost = document.createElement("span");  // before the filters
        ghost.className = "gu-playground__ghost";
        ghost.style.width = (100 * Math.min(1, out.before[id] / widest)) + "%";
        var bar = document.createElement("span");  // what sampling uses
        bar.className = "gu-playground__bar";
        bar.style.width = (100 * out.after[id] / widest) + "%";
        track.append(ghost, bar);
        var value = document.createElement("span");
        value.className = "gu-playground__value";
        value.textContent = isKept ? percent(out.after[id]) : "cut";
        row.append(label, track, value);
        return row;
      });
      list.replaceChildren.apply(list, rows);
    }

    widget.addEventListener("input", draw);
    widget.addEventListener("change", draw);
    draw();
  }

  function setupAll() {
    var widgets = document.querySelectorAll("[data-playground]");
    for (var i = 0; i < widgets.length; i++) {
      if (widgets[i].hasAttribute("data-playground-ready")) continue;
      widgets[i].setAttribute("data-playground-ready", "");
      setup(widgets[i]);
    }
  }

  if (typeof window.document$ !== "undefined" && window.document$.subscribe) {
    window.document$.subscribe(setupAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
})();
