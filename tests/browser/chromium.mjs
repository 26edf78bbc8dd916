// Debian's Chromium for the browser tests, launched the offline way (no first-run, no
// background networking, no component updates, no sync), headless and without GPU.
import { chromium } from 'playwright-core';

const EXECUTABLE = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export function launchChromium(extraArgs = []) {
  return chromium.launch({ executablePath: EXECUTABLE, args: [...ARGS, ...extraArgs] });
}

/** A browser context with a profile in `dir` (not incognito), launched the same way. */
export function launchWithProfile(dir) {
  return chromium.launchPersistentContext(dir, { executablePath: EXECUTABLE, args: ARGS });
}

/** Chromium with a fake camera showing `file` (.y4m or .mjpeg); `grant` false denies it instead. */
export function launchWithCamera(file, { grant = true } = {}) {
  return launchChromium(['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${file}`,
    grant ? '--use-fake-ui-for-media-stream' : '--deny-permission-prompts']);
}
