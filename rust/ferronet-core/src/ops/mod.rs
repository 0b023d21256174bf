//! The neural-network ops, each forward next to its backward.
pub mod activation;
pub mod batchnorm;
pub mod conv2d;
pub(crate) mod conv2d_bf16;
mod conv_direct;
pub mod dropout;
pub mod global_pool;
pub mod loss;
pub mod margin_loss;
pub mod matmul;
pub mod metric;
pub mod optim;
pub mod pointwise_loss;
pub mod pool;
pub mod reduce;
pub mod softmax;
pub(crate) mod sweep;
pub mod vmath;
