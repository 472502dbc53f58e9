/**
 * The Bot API methods flood control paces by default: every method that posts a message in a chat
 * (sends, copies, forwards) or changes one (edits, stopping a poll or a live location), since Telegram
 * throttles edits as it throttles sends (an LLM answer streamed by editing one message hits the
 * per-chat limit first). Left out: chat actions ("typing…"), message drafts, and everything that
 * reads or administers.
 */
export const PACED_METHODS: readonly string[] = [
  'sendMessage',
  'sendPhoto',
  'sendAudio',
  'sendDocument',
  'sendVideo',
  'sendAnimation',
  'sendVoice',
  'sendVideoNote',
  'sendPaidMedia',
  'sendMediaGroup',
  'sendLocation',
  'sendVenue',
  'sendContact',
  'sendPoll',
  'sendChecklist',
  'sendDice',
  'sendSticker',
  'sendInvoice',
  'sendGame',
  'copyMessage',
  'copyMessages',
  'forwardMessage',
  'forwardMessages',
  'editMessageText',
  'editMessageCaption',
  'editMessageMedia',
  'editMessageReplyMarkup',
  'editMessageLiveLocation',
  'editMessageChecklist',
  'stopMessageLiveLocation',
  'stopPoll',
]

/** Where a call goes: the chat id as text, and whether the chat is a group, supergroup or channel. */
export interface Target {
  chat: string
  group: boolean
}

/**
 * The chat a call posts in, if it names one (an inline message edit names none). Group, supergroup and
 * channel ids are negative; an `@username` names a public channel or supergroup (bots cannot write to a
 * user by username).
 */
export function targetOf(payload: unknown): Target | undefined {
  const chatId = (payload as { chat_id?: unknown } | undefined)?.chat_id
  if (typeof chatId === 'number' && Number.isFinite(chatId)) return { chat: String(chatId), group: chatId < 0 }
  if (typeof chatId === 'string' && chatId !== '') return { chat: chatId, group: chatId.startsWith('-') || chatId.startsWith('@') }
  return undefined
}

/** Messages one call posts: an album or a batch copy counts each message, as Telegram does. */
export function messagesOf(method: string, payload: unknown): number {
  const p = payload as { media?: unknown; message_ids?: unknown } | undefined
  const list = method === 'sendMediaGroup' ? p?.media : method === 'copyMessages' || method === 'forwardMessages' ? p?.message_ids : undefined
  return Array.isArray(list) && list.length > 0 ? list.length : 1
}
