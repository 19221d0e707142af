// The capture guide (ui/capture_guide.py): the device's camera, rear camera preferred, with the previous visit's
// photo of the same view over it, semi-transparent, so that distance, angle and parting can be matched. "Take the
// photo" sends the frame (a JPEG data URL) to the app as the trigger "captured". When no camera can be used (no
// camera, permission refused, or a page not served over HTTPS or from localhost) the state "camera" says why, and
// the app offers a plain upload instead. Nothing is fetched from anywhere: the overlay comes inline in `data`.
const guides = new WeakMap();

function reason(error) {
  if (!window.isSecureContext) {
    return "insecure: the camera works only on a page served over HTTPS (or from this computer)";
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return "unsupported: this browser gives no access to a camera";
  }
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "refused: the browser was not allowed to use the camera";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "missing: this device has no camera";
  }
  return "failed: the camera could not be started (" + (name || "unknown error") + ")";
}

const READY = "Line the scalp up with the previous photo, then take the photo.";

function showOverlay(guide, data) {
  const { overlay, fade, percent, status } = guide;
  // What the app says about the last photo taken (checked, added), else the camera's own state.
  if (guide.ready) { status.textContent = (data && data.note) || READY; }
  if (data && data.overlay) {
    if (overlay.getAttribute("src") !== data.overlay) { overlay.setAttribute("src", data.overlay); }
    overlay.alt = data.caption || "Previous photo";
    overlay.hidden = false;
    fade.disabled = false;
  } else {
    overlay.removeAttribute("src");
    overlay.hidden = true;
    fade.disabled = true;
  }
  overlay.style.opacity = String(Number(fade.value) / 100);
  percent.textContent = fade.value + "%";
}

function noCamera(guide, setStateValue, why) {
  // The frame and its controls go; the app offers a plain upload in their place, saying why.
  guide.root.classList.add("off");
  guide.status.textContent = "No camera here.";
  setStateValue("camera", why);
}

async function start(guide, setStateValue) {
  const { video, take } = guide;
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    noCamera(guide, setStateValue, reason(null));
    return;
  }
  try {
    guide.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
      audio: false,
    });
  } catch (error) {
    noCamera(guide, setStateValue, reason(error));
    return;
  }
  if (guide.stopped) { guide.stream.getTracks().forEach((track) => track.stop()); return; }
  video.srcObject = guide.stream;
  await video.play().catch(() => {});
  guide.ready = true;
  showOverlay(guide, guide.data);
  take.disabled = false;
  setStateValue("camera", "on");
}

export default function (component) {
  const { parentElement, data, setStateValue, setTriggerValue } = component;
  let guide = guides.get(parentElement);
  if (!guide) {
    const find = (selector) => parentElement.querySelector(selector);
    guide = { root: find(".guide"), video: find(".live"), overlay: find(".overlay"), fade: find(".fade"), percent: find(".percent"),
              status: find(".status"), take: find(".take"), stream: null, stopped: false, ready: false };
    guides.set(parentElement, guide);
    const current = guide;
    current.fade.addEventListener("input", () => showOverlay(current, current.data));
    current.take.addEventListener("click", () => {
      const { video } = current;
      if (!video.videoWidth) { return; }
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      current.status.textContent = "Photo taken: checking it…";
      setTriggerValue("captured", canvas.toDataURL("image/jpeg", 0.92));
    });
    start(current, setStateValue);
  }
  guide.data = data;
  showOverlay(guide, data);
  const kept = guide;
  return () => {
    kept.stopped = true;
    if (kept.stream) { kept.stream.getTracks().forEach((track) => track.stop()); }
    guides.delete(parentElement);
  };
}
