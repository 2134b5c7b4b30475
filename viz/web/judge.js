// How a practice page judges a typed number (the stepper's quiz, the explain page's
// exercises): comparison only, against a number the page holds. Placed before the page's
// practice script, which reads window.mgJudge.
(function () {
  "use strict";
  // A typed number: null when empty, NaN when not a number ("−" is read as "-").
  function parse(text) {
    var t = text.trim().replace(/\u2212/g, "-");
    if (t === "") return null;
    return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : NaN;
  }
  // "right" within `right` (half a unit of the digits shown), "close" within the
  // thresholds of `judge` ({closeRelative, closeAbsolute}), else "wrong".
  function verdict(typed, value, right, judge) {
    var d = Math.abs(typed - value);
    if (d <= right * (1 + 1e-9) + 1e-12) return "right";
    if (d <= Math.max(judge.closeRelative * Math.abs(value), judge.closeAbsolute)) return "close";
    return "wrong";
  }
  window.mgJudge = {parse: parse, verdict: verdict};
})();
