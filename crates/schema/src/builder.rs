//! The shared shape of every typed builder.

/// Defines a builder struct wrapping a `ResourceDecl` of `$kind`, with the constructors, the common
/// option setters and the conversion into `ResourceDecl`.
macro_rules! resource_builder {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            decl: tandem_core::ResourceDecl,
        }

        impl $name {
            /// The kind name, `service:Type`.
            pub const KIND: &'static str = $kind;

            /// A resource named `name` in `region`. Fails on a name that is not a valid address part.
            pub fn new(
                region: &tandem_core::Region,
                name: &str,
            ) -> Result<$name, tandem_core::AddrError> {
                Ok($name::at(tandem_core::ResourceAddr::new(region, $kind, name)?))
            }

            /// A resource at an address already made; the address's kind is replaced by this kind's.
            pub fn at(addr: tandem_core::ResourceAddr) -> $name {
                let addr = if addr.kind() == $kind {
                    addr
                } else {
                    tandem_core::ResourceAddr::new(&addr.region(), $kind, addr.name())
                        .unwrap_or(addr)
                };
                $name {
                    decl: tandem_core::ResourceDecl::new(addr),
                }
            }

            pub fn addr(&self) -> &tandem_core::ResourceAddr {
                &self.decl.addr
            }

            /// The inputs set so far.
            pub fn inputs(&self) -> &tandem_core::Props {
                &self.decl.inputs
            }

            /// Sets any input property by name (an escape hatch for properties without a setter).
            pub fn set(mut self, name: &str, value: impl Into<tandem_core::Value>) -> $name {
                self.decl.inputs.insert(name.to_string(), value.into());
                self
            }

            /// Adds a user tag (keys starting with `tandem:` are reserved).
            pub fn tag(mut self, key: &str, value: impl Into<tandem_core::Value>) -> $name {
                let entry = self
                    .decl
                    .inputs
                    .entry("tags".to_string())
                    .or_insert_with(|| tandem_core::Value::Map(Default::default()));
                if let tandem_core::Value::Map(m) = entry {
                    m.insert(key.to_string(), value.into());
                }
                self
            }

            /// Lifecycle options (protect, ignore_changes, ...).
            pub fn options(mut self, options: tandem_core::ResourceOptions) -> $name {
                self.decl.options = options;
                self
            }

            /// Refuses plans that would delete or replace this resource.
            pub fn protect(mut self, protect: bool) -> $name {
                self.decl.options.protect = protect;
                self
            }

            /// An explicit dependency, on top of those implied by references.
            pub fn depends_on(mut self, addr: &tandem_core::ResourceAddr) -> $name {
                self.decl.depends_on.push(addr.clone());
                self
            }
        }

        impl From<$name> for tandem_core::ResourceDecl {
            fn from(b: $name) -> tandem_core::ResourceDecl {
                b.decl
            }
        }
    };
}

/// Defines `pub fn $method(self, v: impl Into<Value>) -> Self` setting input `$prop`.
macro_rules! setters {
    ($name:ident { $($(#[$doc:meta])* $method:ident => $prop:expr),* $(,)? }) => {
        impl $name {
            $(
                $(#[$doc])*
                pub fn $method(self, value: impl Into<tandem_core::Value>) -> $name {
                    self.set($prop, value)
                }
            )*
        }
    };
}
