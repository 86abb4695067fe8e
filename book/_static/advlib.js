// advlib book: every output figure links to its own file, so a reader can open it at full
// resolution (the page shows it scaled to the column's width).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("div.cell_output img").forEach(function (img) {
    if (img.closest("a")) {
      return;
    }
    var link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.target = "_blank";
    link.className = "advlib-full-figure";
    link.title = "Open the figure at full resolution";
    img.parentNode.insertBefore(link, img);
    link.appendChild(img);
  });
});
