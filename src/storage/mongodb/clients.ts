import type { Db } from 'mongodb';

import { isStoreKey } from '../lookup-key.js';
import type { ClientMetadata, ClientStore } from '../types.js';
import { asKey } from './queries.js';

interface ClientDoc {
  _id: string;
  /** stored as a JSON string: client metadata may hold keys MongoDB treats specially ($, dots) */
  metadata: string;
  createdAt: Date;
  updatedAt: Date;
}

export function createMongoClients(db: Db, now: () => number): ClientStore {
  const clients = db.collection<ClientDoc>('clients');
  const parse = (doc: ClientDoc | null) => (doc ? (JSON.parse(doc.metadata) as ClientMetadata) : undefined);
  return {
    async upsert(metadata) {
      const at = new Date(now());
      await clients.updateOne(
        { _id: asKey(metadata.client_id, 'client_id') },
        { $set: { metadata: JSON.stringify(metadata), updatedAt: at }, $setOnInsert: { createdAt: at } },
        { upsert: true },
      );
    },
    async find(clientId) {
      return isStoreKey(clientId) ? parse(await clients.findOne({ _id: clientId })) : undefined;
    },
    async list() {
      return (await clients.find().sort({ createdAt: 1, _id: 1 }).toArray()).map((doc) => parse(doc)!);
    },
    async remove(clientId) {
      return isStoreKey(clientId) && (await clients.deleteOne({ _id: clientId })).deletedCount === 1;
    },
  };
}
