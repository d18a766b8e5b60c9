//! `flotilla demo`: the README's first command. Until the controller lands it
//! builds what is missing, starts a two-region lab with OpenBao, rolls a
//! Deployment out in every region, and shows the lab's state.

use std::time::Duration;

use clap::Args;
use flotilla_lab::smoke;

use crate::lab::{status_table, up, Output, UpArgs};

#[derive(Args)]
pub struct DemoArgs {
    /// Stop the lab at the end instead of leaving it running.
    #[arg(long)]
    down: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let up_args = UpArgs {
        regions: vec!["us-east-2".into(), "us-west-2".into()],
        vault: true,
        nodes: 2,
    };
    let lab = up(&up_args).await?;
    let result = async {
        for region in &up_args.regions {
            let client = lab.client(region).await?;
            let took = smoke::deploy_and_wait(
                &client,
                region,
                "flotilla-demo",
                "web",
                2,
                Duration::from_secs(60),
            )
            .await?;
            println!(
                "lab-{region}: deployment flotilla-demo/web Available (2/2 replicas) in {:.1}s",
                took.as_secs_f64()
            );
        }
        status_table(&lab, Output::Table).await
    }
    .await;
    if args.down {
        let lab2 = lab.clone();
        tokio::task::spawn_blocking(move || lab2.down()).await??;
        eprintln!("lab stopped");
        return result;
    }
    result?;
    println!();
    println!("The lab keeps running. Try:");
    println!("  eval \"$(flotilla lab env)\"");
    println!("  kubectl --context lab-us-west-2 -n flotilla-demo get deployments,pods");
    println!("  bao status");
    println!("  flotilla lab down");
    Ok(())
}
