// The static catalog's search: the index is split by the start of each word of a name
// (search/x{hex of the start}.js), so a search loads a few small files, never the whole
// catalog. Each file calls datasurfaceSearch with its part; a part too large to send is
// split further by the next letter and names only the words that end there.
(function () {
  const query = new URLSearchParams(location.search).get("q") || "";
  const input = document.getElementById("q");
  const said = document.getElementById("said");
  const table = document.getElementById("hits");
  input.value = query;
  const words = query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (words.length === 0) return;
  // Each word in turn, longest first, until one's part of the index is complete.
  const keys = words.map((w) => Array.from(w)).sort((a, b) => b.length - a.length);
  let key = keys[0];
  let best = null;
  const hex = (text) =>
    Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  const load = (length) => {
    const script = document.createElement("script");
    script.src = "search/x" + hex(key.slice(0, length).join("")) + ".js";
    script.onerror = () => show([], false, 0);
    document.head.appendChild(script);
  };
  const show = (hits, split, total) => {
    const found = hits.filter(([, label]) => {
      const lower = label.toLowerCase();
      return words.every((w) => lower.includes(w));
    });
    for (const [kind, label, path] of found) {
      const row = table.insertRow();
      row.insertCell().textContent = kind;
      const link = document.createElement("a");
      link.href = path;
      link.textContent = label;
      row.insertCell().appendChild(link);
    }
    table.hidden = found.length === 0;
    const more = split
      ? " Of the " + total + " names with a word that starts with \u201c" + key.join("") +
        "\u201d, " + hits.length + " were searched: type more of it."
      : "";
    said.textContent =
      (found.length === 0 ? "Nothing matches \u201c" + query + "\u201d." : found.length + " found.") + more;
  };
  window.datasurfaceSearch = (part) => {
    const length = Array.from(part.prefix).length;
    if (part.split && length < key.length) return load(length + 1);
    if (part.complete) return show(part.hits, false, part.total);
    // The word starts too many names: some of them only. Another word may do better.
    if (best === null || part.total < best.part.total) best = { part, key };
    const next = keys.indexOf(key) + 1;
    if (next < keys.length) {
      key = keys[next];
      return load(1);
    }
    key = best.key;
    show(best.part.hits, true, best.part.total);
  };
  load(1);
})();
