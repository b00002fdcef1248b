// Seed step: the bundled Binder et al. (2016) norms, imported as dataset "binder2016" unless this
// exact content is already stored (a later edit of the bundled files imports as a new version).
import path from 'node:path';
import { PROJECT_ROOT } from '../config.ts';
import { normsContentHash } from '../norms/content-hash.ts';
import { importNormsDataset } from '../norms/import.ts';
import { loadNormsFolder } from '../norms/read-folder.ts';
import type { SeedStep } from './seed-step.ts';

export const BINDER_DATASET_NAME = 'binder2016';
export const BINDER_FOLDER = path.join(PROJECT_ROOT, 'data', 'norms', 'binder2016');

export const binderNormsStep: SeedStep = {
  name: 'binder2016-norms',
  async isDone(db) {
    const contentHash = normsContentHash(await loadNormsFolder(BINDER_FOLDER));
    const found = await db.prisma.normsDataset.findUnique({ where: { name_contentHash: { name: BINDER_DATASET_NAME, contentHash } } });
    return found !== null;
  },
  async run(db, progress) {
    progress(0, 1, `importing ${path.relative(PROJECT_ROOT, BINDER_FOLDER)}`);
    const result = await importNormsDataset(db.prisma, await loadNormsFolder(BINDER_FOLDER), { name: BINDER_DATASET_NAME });
    progress(1, 1);
    const { counts } = result;
    return `${BINDER_DATASET_NAME} version ${result.version}: ${counts.concepts} concepts, ${counts.attributes} attributes in ${counts.groups} groups, ${counts.ratings} ratings`;
  },
};
