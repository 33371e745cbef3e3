//! The Porter stemmer exactly as NLTK's `PorterStemmer()` runs it (its default
//! `NLTK_EXTENSIONS` mode), which is what `rouge_score` uses for `use_stemmer=True`.
//!
//! The Rust stemmer crates implement Snowball's English ("Porter2") or Martin Porter's
//! original algorithm; NLTK's mode differs from both (an irregular-forms table, `ies`/`ied`
//! rules for 4-letter words, `fulli`/`logi`, a 2-letter CVC case...), and a different stem
//! is a different ROUGE score. So this is a port, checked against NLTK on ~3000 words.
//!
//! It works on what ROUGE's tokenizer yields: lowercase ASCII letters and digits.

/// NLTK's irregular forms, looked up before any rule.
const IRREGULAR: [(&str, &str); 16] = [
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

/// The stem of `word`. A word with non-ASCII characters is returned unchanged: ROUGE's
/// tokenizer never produces one, and the rules are defined on ASCII letters only.
pub(super) fn stem(word: &str) -> String {
    if !word.is_ascii() {
        return word.to_owned();
    }
    let word = word.to_ascii_lowercase();
    if let Some((_, irregular)) = IRREGULAR.iter().find(|(form, _)| *form == word) {
        return (*irregular).to_owned();
    }
    if word.len() <= 2 {
        return word;
    }
    let word = step1a(&word);
    let word = step1b(&word);
    let word = step1c(&word);
    let word = step2(&word);
    let word = step3(&word);
    let word = step4(&word);
    let word = step5a(&word);
    step5b(&word)
}

/// For each letter, whether it is a consonant: not a vowel, and `y` only after a vowel
/// (or at the start).
fn consonant_flags(word: &str) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(word.len());
    for (i, c) in word.bytes().enumerate() {
        let consonant = match c {
            b'a' | b'e' | b'i' | b'o' | b'u' => false,
            b'y' => i == 0 || !flags[i - 1],
            _ => true,
        };
        flags.push(consonant);
    }
    flags
}

fn is_consonant(word: &str, i: usize) -> bool {
    consonant_flags(word)[i]
}

/// Porter's m: the number of vowel-consonant sequences in `[C](VC)^m[V]`.
fn measure(stem: &str) -> usize {
    consonant_flags(stem)
        .windows(2)
        .filter(|pair| !pair[0] && pair[1])
        .count()
}

fn positive_measure(stem: &str) -> bool {
    measure(stem) > 0
}

fn measure_above_one(stem: &str) -> bool {
    measure(stem) > 1
}

fn contains_vowel(stem: &str) -> bool {
    consonant_flags(stem).iter().any(|consonant| !consonant)
}

fn ends_double_consonant(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] && is_consonant(word, b.len() - 1)
}

/// Ends consonant-vowel-consonant, the last not `w`, `x` or `y`; NLTK also counts a 2-letter
/// vowel-consonant word.
fn ends_cvc(word: &str) -> bool {
    let b = word.as_bytes();
    let n = b.len();
    let flags = consonant_flags(word);
    (n >= 3
        && flags[n - 3]
        && !flags[n - 2]
        && flags[n - 1]
        && !matches!(b[n - 1], b'w' | b'x' | b'y'))
        || (n == 2 && !flags[0] && flags[1])
}

type Condition<'a> = &'a dyn Fn(&str) -> bool;

/// NLTK's `_apply_rule_list`: the first rule whose suffix `word` ends with decides, whether
/// or not its condition (on the stem before the suffix) holds.
fn apply_rules(word: &str, rules: &[(&str, &str, Condition<'_>)]) -> String {
    for (suffix, replacement, condition) in rules {
        if let Some(stem) = word.strip_suffix(suffix) {
            return if condition(stem) {
                format!("{stem}{replacement}")
            } else {
                word.to_owned()
            };
        }
    }
    word.to_owned()
}

fn always(_: &str) -> bool {
    true
}

fn step1a(word: &str) -> String {
    if word.len() == 4 && word.ends_with("ies") {
        return format!("{}ie", &word[..1]);
    }
    apply_rules(
        word,
        &[
            ("sses", "ss", &always),
            ("ies", "i", &always),
            ("ss", "ss", &always),
            ("s", "", &always),
        ],
    )
}

fn step1b(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("ied") {
        return if word.len() == 4 {
            format!("{stem}ie")
        } else {
            format!("{stem}i")
        };
    }
    if let Some(stem) = word.strip_suffix("eed") {
        return if positive_measure(stem) {
            format!("{stem}ee")
        } else {
            word.to_owned()
        };
    }
    let Some(stem) = ["ed", "ing"].iter().find_map(|suffix| {
        word.strip_suffix(suffix)
            .filter(|stem| contains_vowel(stem))
    }) else {
        return word.to_owned();
    };
    for (suffix, replacement) in [("at", "ate"), ("bl", "ble"), ("iz", "ize")] {
        if let Some(root) = stem.strip_suffix(suffix) {
            return format!("{root}{replacement}");
        }
    }
    if ends_double_consonant(stem) {
        let last = stem.as_bytes()[stem.len() - 1];
        return if matches!(last, b'l' | b's' | b'z') {
            stem.to_owned()
        } else {
            stem[..stem.len() - 1].to_owned()
        };
    }
    if measure(stem) == 1 && ends_cvc(stem) {
        format!("{stem}e")
    } else {
        stem.to_owned()
    }
}

fn step1c(word: &str) -> String {
    let condition = |stem: &str| stem.len() > 1 && is_consonant(stem, stem.len() - 1);
    apply_rules(word, &[("y", "i", &condition)])
}

fn step2(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("alli") {
        if positive_measure(stem) {
            return step2(&format!("{stem}al"));
        }
    }
    let p: Condition<'_> = &positive_measure;
    // NLTK tests `logi` on the word minus "ogi", i.e. the stem keeps its `l`.
    let logi = |_: &str| positive_measure(&word[..word.len() - 3]);
    apply_rules(
        word,
        &[
            ("ational", "ate", p),
            ("tional", "tion", p),
            ("enci", "ence", p),
            ("anci", "ance", p),
            ("izer", "ize", p),
            ("bli", "ble", p),
            ("alli", "al", p),
            ("entli", "ent", p),
            ("eli", "e", p),
            ("ousli", "ous", p),
            ("ization", "ize", p),
            ("ation", "ate", p),
            ("ator", "ate", p),
            ("alism", "al", p),
            ("iveness", "ive", p),
            ("fulness", "ful", p),
            ("ousness", "ous", p),
            ("aliti", "al", p),
            ("iviti", "ive", p),
            ("biliti", "ble", p),
            ("fulli", "ful", p),
            ("logi", "log", &logi),
        ],
    )
}

fn step3(word: &str) -> String {
    let p: Condition<'_> = &positive_measure;
    apply_rules(
        word,
        &[
            ("icate", "ic", p),
            ("ative", "", p),
            ("alize", "al", p),
            ("iciti", "ic", p),
            ("ical", "ic", p),
            ("ful", "", p),
            ("ness", "", p),
        ],
    )
}

fn step4(word: &str) -> String {
    let m: Condition<'_> = &measure_above_one;
    let ion = |stem: &str| measure_above_one(stem) && (stem.ends_with('s') || stem.ends_with('t'));
    apply_rules(
        word,
        &[
            ("al", "", m),
            ("ance", "", m),
            ("ence", "", m),
            ("er", "", m),
            ("ic", "", m),
            ("able", "", m),
            ("ible", "", m),
            ("ant", "", m),
            ("ement", "", m),
            ("ment", "", m),
            ("ent", "", m),
            ("ion", "", &ion),
            ("ou", "", m),
            ("ism", "", m),
            ("ate", "", m),
            ("iti", "", m),
            ("ous", "", m),
            ("ive", "", m),
            ("ize", "", m),
        ],
    )
}

fn step5a(word: &str) -> String {
    if let Some(stem) = word.strip_suffix('e') {
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_owned();
        }
    }
    word.to_owned()
}

fn step5b(word: &str) -> String {
    // NLTK measures the word minus one `l`, not the stem minus both.
    let condition = |_: &str| measure_above_one(&word[..word.len() - 1]);
    apply_rules(word, &[("ll", "l", &condition)])
}
