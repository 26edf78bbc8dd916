// The camera: the rear camera at a high resolution when there is one, switching between
// cameras, the torch where the track supports it, and a plain-words reason when there is no
// camera to use (the page then offers the file picker, drag-and-drop and paste).

export class CameraError extends Error {}

function explain(e) {
  switch (e?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'Camera permission was denied. Allow the camera for this site in the browser settings and reload, or scan a photo instead.';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found on this device.';
    case 'NotReadableError':
    case 'TrackStartError':
      return 'The camera is in use by another app or could not be started.';
    default:
      return `The camera could not be started (${e?.name ?? 'error'}: ${e?.message ?? e}).`;
  }
}

export class Camera {
  constructor(video) {
    this.video = video;
    this.stream = null;
    this.devices = [];
    this.deviceIndex = -1;
    this.torchOn = false;
  }

  /** Starts the camera (a given device, or the rear one); throws CameraError with a message. */
  async start(deviceId) {
    if (!window.isSecureContext) {
      throw new CameraError('The camera needs a secure page (https:// or http://localhost); this one is not.');
    }
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new CameraError('This browser gives web pages no camera access.');
    }
    this.stop();
    const video = deviceId
      ? { deviceId: { exact: deviceId }, width: { ideal: 1920 }, height: { ideal: 1080 } }
      : { facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 1080 } };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    } catch (e) {
      throw new CameraError(explain(e));
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    this.devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    const current = this.track()?.getSettings?.().deviceId;
    this.deviceIndex = Math.max(0, this.devices.findIndex((d) => d.deviceId === current));
    this.torchOn = false;
  }

  track() {
    return this.stream?.getVideoTracks()[0] ?? null;
  }

  canSwitch() {
    return this.devices.length > 1;
  }

  canTorch() {
    return Boolean(this.track()?.getCapabilities?.().torch);
  }

  async next() {
    if (!this.canSwitch()) return;
    const d = this.devices[(this.deviceIndex + 1) % this.devices.length];
    await this.start(d.deviceId);
  }

  async toggleTorch() {
    const t = this.track();
    if (!t) return false;
    this.torchOn = !this.torchOn;
    await t.applyConstraints({ advanced: [{ torch: this.torchOn }] });
    return this.torchOn;
  }

  ready() {
    return this.video.readyState >= 2 && this.video.videoWidth > 0;
  }

  stop() {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
  }
}
