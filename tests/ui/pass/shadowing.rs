//! The body of a tracked function is kept in its own braces: names it declares or imports
//! (here a `Result` alias with one parameter, shadowing the two-parameter one the signature
//! uses) stay inside it, and `impl Trait` in a return type is fine.
#![deny(warnings)]

mod my {
    pub type Result<T> = std::result::Result<T, std::io::Error>;
}

#[opik::track]
fn shadowed() -> Result<u8, std::io::Error> {
    use my::Result;
    let r: Result<u8> = Ok(1);
    r
}

#[opik::track]
async fn shadowed_async() -> Result<u8, std::io::Error> {
    use my::Result;
    let r: Result<u8> = Ok(2);
    r
}

#[opik::track]
fn items_in_the_body() -> u8 {
    const ONE: u8 = 1;
    fn helper() -> u8 {
        2
    }
    helper() + ONE
}

#[opik::track]
fn partly_opaque() -> Result<impl std::fmt::Display, std::io::Error> {
    Ok("three")
}

#[opik::track]
fn opaque() -> impl Iterator<Item = u8> {
    [4, 5].into_iter()
}

fn main() {
    assert_eq!(shadowed().ok(), Some(1));
    let fut = shadowed_async();
    drop(fut);
    assert_eq!(items_in_the_body(), 3);
    assert_eq!(partly_opaque().map(|d| d.to_string()).ok().as_deref(), Some("three"));
    assert_eq!(opaque().sum::<u8>(), 9);
}
