// A gentle reminder, never a block: the documentation standard says no names in notes. Two capitalised
// words in a row ("Jamie Engine") or a title and a word ("Mr Smith") look like a name; the warning
// appears under the field and the supporter still decides. Nothing leaves the page.
(function () {
  var NAME = /(?:\b(?:Mr|Mrs|Ms|Dr|Capt|Lt|Sgt|Chief|Officer|Engineer)\.?\s+[A-Z][a-z'-]+)|(?:\b[A-Z][a-z'-]+\s+(?:[A-Z]\.\s+)?[A-Z][a-z'-]{1,})/;
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-name-warning]").forEach(function (field) {
      var warning = document.getElementById(field.getAttribute("data-name-warning"));
      if (!warning) { return; }
      var check = function () { warning.hidden = !NAME.test(field.value); };
      field.addEventListener("input", check);
      check();
    });
  });
})();
