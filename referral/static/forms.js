// Small helps for forms. Every page works without them: the server adds rows, counts and
// refuses too long texts, and shows its error summary first.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "nl";

  // After a failed submit the error summary takes focus: a keyboard or screen reader user
  // starts at the list of problems, each a link to its field.
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }

  // Long texts: a counter that says how much room is left, and how much too long a text is,
  // instead of a maxlength that cuts pasted text without a word. A new line is sent as two
  // characters (CR LF), so it counts as two, as the server counts it.
  function length(value) {
    return Array.from(value).length + (value.match(/\n/g) || []).length;
  }
  document.querySelectorAll("[data-limit]").forEach(function (field) {
    var counter = document.getElementById(field.id + "-count");
    if (!counter) {
      return;
    }
    var limit = parseInt(field.getAttribute("data-limit"), 10);
    function update() {
      var count = length(field.value);
      var over = count > limit;
      var text = over ? counter.getAttribute("data-over") : counter.getAttribute("data-template");
      counter.textContent = text.replace("{count}", (over ? count - limit : count).toLocaleString(lang));
      counter.classList.toggle("over", over);
    }
    field.addEventListener("input", update);
    update();
  });

  // "Add a child" adds a row in place (without JavaScript the server adds it).
  document.querySelectorAll("[data-add-child]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      var rows = button.parentNode.querySelectorAll("[data-child-row]");
      var last = rows[rows.length - 1];
      if (!last) {
        return;
      }
      event.preventDefault();
      var index = rows.length;
      var row = last.cloneNode(true);
      row.querySelectorAll("[id], [for], [name]").forEach(function (element) {
        ["id", "for", "name"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) {
            element.setAttribute(attribute, value.replace(/children-\d+-/, "children-" + index + "-"));
          }
        });
      });
      row.querySelectorAll(".field-error, .remove-child").forEach(function (element) {
        element.remove();
      });
      row.querySelectorAll(".has-error").forEach(function (element) {
        element.classList.remove("has-error");
      });
      row.querySelectorAll("input").forEach(function (input) {
        input.value = "";
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      });
      var legend = row.querySelector("legend");
      if (legend) {
        legend.textContent = button.getAttribute("data-legend").replace("{number}", index + 1);
      }
      last.after(row);
      row.querySelector("input:not([type=hidden])").focus();
    });
  });
})();
