// The count screen's marks: the close-up with every detection drawn over it; a click adds a mark, a click on a
// mark removes it (a removed detection stays as a grey cross: a second click brings it back). Everything runs in
// the page (Streamlit components v2: no frame, nothing fetched); the corrections go back to Python as the
// state value "edits" = {added: [[x, y], ...], removed: [index, ...]}, in pixels of the photo as sent.
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = { terminal: "#ffd400", vellus: "#00e5ff", unknown: "#7CFC00", added: "#ff3df5", removed: "#9a9a9a" };

function shape(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (!data || !data.image) return;
  let root = parentElement.querySelector(".hair-marks");
  if (!root) {
    root = document.createElement("div");
    root.className = "hair-marks";
    parentElement.appendChild(root);
  }
  root.replaceChildren();
  const { width, height } = data;
  const radius = Math.max(5, Math.round(Math.max(width, height) / 90));
  const added = (data.added || []).map((p) => [p[0], p[1]]);
  const removed = new Set(data.removed || []);

  const svg = shape("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             "aria-label": "Close-up with the hairs marked: click to add a mark, click a mark to remove it" });
  svg.style.cursor = "crosshair";
  svg.style.display = "block";
  svg.style.maxHeight = "75vh";
  svg.appendChild(shape("image", { href: data.image, x: 0, y: 0, width, height }));
  const layer = shape("g", { "stroke-width": Math.max(1.5, radius / 3.5), fill: "none" });
  svg.appendChild(layer);
  root.appendChild(svg);

  function draw() {
    layer.replaceChildren();
    data.detected.forEach((mark, index) => {
      const [x, y, kind] = mark;
      if (removed.has(index)) {
        const r = radius * 0.7;
        layer.appendChild(shape("path", { d: `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}`,
                                          stroke: COLOURS.removed, "data-mark": "removed", "data-index": index }));
      } else {
        layer.appendChild(shape("circle", { cx: x, cy: y, r: radius, stroke: COLOURS[kind] || COLOURS.unknown,
                                            "data-mark": "detected", "data-index": index }));
      }
    });
    added.forEach(([x, y], index) => {
      layer.appendChild(shape("rect", { x: x - radius, y: y - radius, width: 2 * radius, height: 2 * radius,
                                        stroke: COLOURS.added, "data-mark": "added", "data-index": index }));
    });
  }

  function nearest(x, y) {
    // The mark under the click: within the mark's own radius (plus a little, for a fingertip on a tablet). Of
    // marks equally near (one spot), a standing one before a removed one: each click on the spot removes one more.
    let best = null;
    const reach = (radius * 1.4) ** 2;
    const consider = (kind, index, mx, my) => {
      const d = (mx - x) ** 2 + (my - y) ** 2;
      const gone = kind === "detected" && removed.has(index);
      if (d <= reach && (best === null || d < best.d || (d === best.d && best.gone && !gone))) {
        best = { kind, index, d, gone };
      }
    };
    added.forEach(([mx, my], index) => consider("added", index, mx, my));
    data.detected.forEach(([mx, my], index) => consider("detected", index, mx, my));
    return best;
  }

  svg.addEventListener("click", (event) => {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const at = point.matrixTransform(svg.getScreenCTM().inverse());
    const x = Math.round(Math.min(width, Math.max(0, at.x)) * 10) / 10;
    const y = Math.round(Math.min(height, Math.max(0, at.y)) * 10) / 10;
    const hit = nearest(x, y);
    if (hit === null) added.push([x, y]);
    else if (hit.kind === "added") added.splice(hit.index, 1);
    else if (removed.has(hit.index)) removed.delete(hit.index);
    else removed.add(hit.index);
    draw();
    setStateValue("edits", { added, removed: [...removed].sort((a, b) => a - b) });
  });
  draw();
}
