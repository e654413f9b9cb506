// The operator's offline checks (`fapiao verify NUMBER`): any tenant's invoice by number, and the published signing
// keys, read from the local database.
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Invoice } from '../../../shared/invoice.ts';
import type { InvoiceRepository } from '../../invoicing/index.ts';
import type { SigningKeyRepository } from '../../keys/index.ts';
import type { SigningAlgorithm } from '../../../shared/signing.ts';

export class OfflineLookup {
  constructor(private readonly uow: UnitOfWork<{ invoices: InvoiceRepository; signingKeys: SigningKeyRepository }>) {}

  findInvoice(number: string): Promise<Invoice | undefined> {
    return this.uow.read.invoices.findForVerification(number);
  }

  async publicKeys(): Promise<{ keyId: string; alg: SigningAlgorithm; publicKey: string }[]> {
    return (await this.uow.read.signingKeys.list()).map((k) => ({ keyId: k.id, alg: k.alg, publicKey: k.publicKey }));
  }
}
