/**
 * Container images for the real-runtime test, built here because no registry is reachable: one busybox
 * image (Debian's static busybox in an otherwise empty root filesystem) whose default command sleeps, so it
 * serves both as the pod sandbox ("pause") image and as the image of the test's containers. Written as a
 * docker-save archive (manifest.json, the image config, one layer tar) and imported with `ctr images import`.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';

/** Where Debian's busybox-static puts its binary (statically linked: the image has no libc). */
export const BUSYBOX = '/bin/busybox';
/** The applets the test's commands use. */
const APPLETS = ['sh', 'sleep', 'ip', 'cat', 'ls', 'true'];

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Builds the docker-save archive for `ref` in `dir`; returns its path. */
export async function buildBusyboxImage(dir: string, ref: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'proc'), { recursive: true });
  mkdirSync(join(rootfs, 'tmp'), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  const layer = join(dir, 'layer.tar');
  const t = await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', layer, '.'], { timeoutMs: 30_000 });
  if (t.code !== 0) throw new Error(`tar of the image layer failed: ${t.stderr.trim()}`);
  const config = {
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Entrypoint: ['/bin/busybox', 'sleep', '2147483647'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
  };
  const configText = JSON.stringify(config);
  const configName = `${createHash('sha256').update(configText).digest('hex')}.json`;
  writeFileSync(join(dir, configName), configText);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [ref], Layers: ['layer.tar'] }]));
  const archive = join(dir, 'image.tar');
  const a = await run('tar', ['-C', dir, '-cf', archive, 'manifest.json', configName, 'layer.tar'], { timeoutMs: 30_000 });
  if (a.code !== 0) throw new Error(`tar of the image archive failed: ${a.stderr.trim()}`);
  return archive;
}
