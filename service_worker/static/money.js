// Amounts and currencies as certs/money.py has them: ISO 4217 codes with their minor-unit
// exponents, and amounts as canonical decimal strings ("12.30" EUR, "1000" JPY). No
// floating point: the string the cardholder confirms is the string that is signed.

// ISO 4217 (list one, 2024 edition): code -> minor unit exponent (as certs/money.py).
export const CURRENCY_EXPONENTS = Object.freeze({
  AED: 2, ARS: 2, AUD: 2, BGN: 2, BHD: 3, BRL: 2, CAD: 2, CHF: 2,
  CLP: 0, CNY: 2, COP: 2, CZK: 2, DKK: 2, EGP: 2, EUR: 2, GBP: 2,
  HKD: 2, HUF: 2, IDR: 2, ILS: 2, INR: 2, ISK: 0, JOD: 3, JPY: 0,
  KRW: 0, KWD: 3, MAD: 2, MXN: 2, MYR: 2, NGN: 2, NOK: 2, NZD: 2,
  OMR: 3, PEN: 2, PHP: 2, PKR: 2, PLN: 2, QAR: 2, RON: 2, RSD: 2,
  SAR: 2, SEK: 2, SGD: 2, THB: 2, TND: 3, TRY: 2, TWD: 2, UAH: 2,
  USD: 2, VND: 0, XAF: 0, XOF: 0, ZAR: 2,
});

const MAX_DIGITS = 18;

/** Whether `code` is a supported ISO 4217 alphabetic code (upper case). */
export function isCurrency(code) {
  return typeof code === "string" && Object.hasOwn(CURRENCY_EXPONENTS, code);
}

/** Whether `amount` is the canonical decimal string for `currency`. */
export function isCanonicalAmount(amount, currency) {
  if (!isCurrency(currency) || typeof amount !== "string") {
    return false;
  }
  const exponent = CURRENCY_EXPONENTS[currency];
  const fraction = exponent ? `\\.[0-9]{${exponent}}` : "";
  return new RegExp(`^(0|[1-9][0-9]{0,${MAX_DIGITS - 1}})${fraction}$`).test(amount);
}

/**
 * The amount in minor units, exactly (BigInt).
 *
 * @param {string} amount canonical for `currency`.
 * @param {string} currency
 * @returns {bigint}
 */
export function minorUnits(amount, currency) {
  if (!isCanonicalAmount(amount, currency)) {
    throw new TypeError("not a canonical amount");
  }
  return BigInt(amount.replace(".", ""));
}
