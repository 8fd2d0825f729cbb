/**
 * Tubes by id and the conversation-id → tube-id index of a registry (its entries are tube handles of either
 * backend). Answers the registry's lookup methods.
 */
import { ErrorCode, TubesError } from '../errors.ts';

export class TubeIndex<T extends { readonly id: string }> {
  readonly #tubes = new Map<string, T>();
  readonly #conversations = new Map<string, string>();

  get size(): number {
    return this.#tubes.size;
  }

  get(tubeId: string): T | undefined {
    return this.#tubes.get(tubeId);
  }

  has(tubeId: string): boolean {
    return this.#tubes.has(tubeId);
  }

  ids(): string[] {
    return [...this.#tubes.keys()];
  }

  values(): IterableIterator<T> {
    return this.#tubes.values();
  }

  /** Registers a tube (or replaces the entry with the same id), under a conversation when given. */
  add(tube: T, conversationId?: string): void {
    this.#tubes.set(tube.id, tube);
    if (conversationId !== undefined) this.#conversations.set(conversationId, tube.id);
  }

  associate(conversationId: string, tubeId: string): void {
    this.#conversations.set(conversationId, tubeId);
  }

  /** Forgets the tube and every conversation pointing at it (only if `tube` is still the registered one). */
  remove(tube: T): void {
    if (this.#tubes.get(tube.id) === tube) this.#tubes.delete(tube.id);
    for (const [conv, id] of this.#conversations) if (id === tube.id) this.#conversations.delete(conv);
  }

  tubeIdOf(conversationId: string): string | undefined {
    return this.#conversations.get(conversationId);
  }

  byConversation(conversationId: string): T | undefined {
    const id = this.#conversations.get(conversationId);
    return id === undefined ? undefined : this.#tubes.get(id);
  }

  conversationsOf(tubeId: string): string[] {
    const ids: string[] = [];
    for (const [conv, id] of this.#conversations) if (id === tubeId) ids.push(conv);
    return ids;
  }

  find(searchTerm: string): string[] {
    return this.ids().filter((id) => id.includes(searchTerm));
  }

  /** As the original's `get_tube_id_by_conversation_id`. */
  requireTubeIdOf(conversationId: string): string {
    const id = this.#conversations.get(conversationId);
    if (id === undefined) {
      throw new TubesError(
        ErrorCode.CONVERSATION_NOT_FOUND,
        `No tube found for conversation: ${conversationId}`,
      );
    }
    return id;
  }
}
