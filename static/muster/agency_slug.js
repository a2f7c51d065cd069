// Onboarding an agency (templates/network/agency_create.html): suggest the web address from the agency's
// name as it is typed. Only a suggestion: once the address is edited by hand it is left alone (clearing
// it brings the suggestion back), and the server still validates it and refuses one already taken.
(function () {
  var name = document.querySelector("[data-slug-from-name]");
  var slug = document.querySelector("[data-slug-suggested]");
  if (!name || !slug) { return; }
  var max = parseInt(slug.getAttribute("maxlength"), 10) || 40;

  function suggest(text) {
    var value = text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/&/g, " and ").replace(/[^a-z0-9]+/g, "-")
      .replace(/^(?:-|[0-9][a-z0-9]*)+/, "").replace(/-+$/, "");  // starts with a letter: "9th-x" is "x"
    if (value.length > max) {
      var cut = value.slice(0, max + 1);
      var lastHyphen = cut.lastIndexOf("-");
      value = lastHyphen > 0 ? cut.slice(0, lastHyphen) : value.slice(0, max);
    }
    return value.replace(/-+$/, "");
  }

  // A form shown again after an error keeps an address typed by hand.
  var edited = slug.value !== "" && slug.value !== suggest(name.value);
  if (!edited && name.value) { slug.value = suggest(name.value); }
  name.addEventListener("input", function () {
    if (!edited) { slug.value = suggest(name.value); }
  });
  slug.addEventListener("input", function () { edited = slug.value !== ""; });
})();
