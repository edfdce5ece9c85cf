import fs from 'node:fs';
import path from 'node:path';
import { FsBlobStore } from '../../src/core/blobs/fs-store.ts';
import { tempDir } from '../helpers/wharf.ts';
import { blobStoreContract } from './blob-store.contract.ts';

blobStoreContract('filesystem', async () => {
  const dir = tempDir('wharf-blobs-');
  return {
    store: new FsBlobStore(dir),
    reopen: () => new FsBlobStore(dir),
    async cleanup() {
      // Nothing may be left in tmp/ once every put has been committed or cancelled.
      const left = fs.readdirSync(path.join(dir, 'tmp'));
      fs.rmSync(dir, { recursive: true, force: true });
      if (left.length) throw new Error(`temp files left behind: ${left.join(', ')}`);
    },
  };
});
