/// Like `assert_eq!`, but prints both sides one per line, with a label (ripgrep's `eqnice!`).
macro_rules! eqnice {
    ($expected:expr, $got:expr, $($label:tt)+) => {{
        let expected = &$expected;
        let got = &$got;
        if expected != got {
            panic!("\n{}\nexpected: {:?}\ngot:      {:?}\n", format!($($label)+), expected, got);
        }
    }};
    ($expected:expr, $got:expr $(,)?) => {
        eqnice!($expected, $got, "{}", stringify!($got))
    };
}
