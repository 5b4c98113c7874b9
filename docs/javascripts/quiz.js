// Chapter quizzes (HTML from hooks/quiz.py): choosing an answer shows at once
// whether it is right, and that answer's explanation, in the question's
// aria-live region; choosing another answer replaces both.
//
// The radio buttons are native inputs, so the keyboard works as for any radio
// group (Tab into a question, arrow keys or Space to choose). Material's
// document$ fires on the first load and after every instant navigation; each
// quiz is wired once (data-quiz-ready), so running setup again is harmless.
(function () {
  "use strict";

  var VERDICT = { correct: "Correct.", wrong: "Not quite." };

  function show(question, input) {
    var right = input.getAttribute("data-correct") === "true";
    var state = right ? "correct" : "wrong";

    var answers = question.querySelectorAll(".gu-quiz__answer");
    for (var i = 0; i < answers.length; i++) {
      answers[i].classList.remove("is-chosen", "is-correct", "is-wrong");
    }
    var answer = input.closest(".gu-quiz__answer");
    if (answer) answer.classList.add("is-chosen", right ? "is-correct" : "is-wrong");
    question.setAttribute("data-quiz-state", state);

    var verdict = document.createElement("p");
    verdict.className = "gu-quiz__verdict";
    var mark = document.createElement("span");
    mark.className = "gu-quiz__mark";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = right ? "\u2713" : "\u2717";
    verdict.append(mark, " ", VERDICT[state]);

    var body = document.createElement("div");
    body.className = "gu-quiz__why";
    var source = null;
    var explanations = question.querySelectorAll(".gu-quiz__explanation");
    for (var j = 0; j < explanations.length; j++) {
      if (explanations[j].getAttribute("data-answer") === input.id) source = explanations[j];
    }
    if (source) body.innerHTML = source.innerHTML;

    var feedback = question.querySelector(".gu-quiz__feedback");
    if (!feedback) return;
    feedback.setAttribute("data-quiz-state", state);
    feedback.replaceChildren(verdict, body);

    // Math is rendered by katex.js on page load; render it here if it was not yet.
    if (body.querySelector(".arithmatex") && !body.querySelector(".katex") &&
        typeof window.renderMathInElement === "function") {
      window.renderMathInElement(body, {
        delimiters: [
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
        throwOnError: false,
      });
    }
  }

  function onChange(event) {
    var input = event.target;
    if (!input || input.type !== "radio" || !input.checked) return;
    var question = input.closest(".gu-quiz__question");
    if (question) show(question, input);
  }

  function setup(root) {
    var quizzes = (root || document).querySelectorAll(".gu-quiz");
    for (var i = 0; i < quizzes.length; i++) {
      var quiz = quizzes[i];
      if (quiz.hasAttribute("data-quiz-ready")) continue;
      quiz.setAttribute("data-quiz-ready", "");
      quiz.addEventListener("change", onChange);
      // a choice the browser restored (back/forward) gets its feedback too
      var checked = quiz.querySelectorAll("input[type=radio]:checked");
      for (var j = 0; j < checked.length; j++) {
        show(checked[j].closest(".gu-quiz__question"), checked[j]);
      }
    }
  }

  if (typeof window.document$ !== "undefined" && window.document$.subscribe) {
    window.document$.subscribe(function () { setup(document); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setup(document); });
  } else {
    setup(document);
  }
})();
